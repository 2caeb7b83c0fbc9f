#!/usr/bin/env bash
# Featurize a data set on many machines with a Slurm job array: task i of
# the array runs part i (retarget featurize --shard auto reads
# SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_MIN and SLURM_ARRAY_TASK_COUNT)
# into one shared folder. Submit, then fit once the array is done:
#   jid=$(sbatch --parsable deploy/slurm-featurize.sh)
#   sbatch --dependency=afterok:$jid --wrap \
#     "retarget fit $MODEL --featurized $OUT -o retargeted.rtm --epochs 5"
# Resubmitting the array after a failure redoes only the missing parts.
#SBATCH --job-name=retarget-featurize
#SBATCH --array=0-7
#SBATCH --cpus-per-task=4
#SBATCH --mem=4G
#SBATCH --output=featurize-%A_%a.log
set -euo pipefail

RETARGET=${RETARGET:-retarget}
MODEL=${MODEL:-/shared/model.h5}
DATA=${DATA:-type=images,path=/shared/train,size=224x224,preprocess=vgg}
OUT=${OUT:-/shared/features}
BATCH=${BATCH:-64}

exec "$RETARGET" featurize "$MODEL" --data "$DATA" --out "$OUT" --shard auto --batch-size "$BATCH"
