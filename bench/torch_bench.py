#!/usr/bin/env python3
"""The PyTorch side of `make bench` (bench/bench.py), 2 threads, float32.
Builds the same networks as bench/speed/main.go and prints one JSON object
{"ms": [ms per run, ...]}; each mode warms up once first.

  torch_bench.py forward vgg16|resnet50 INPUT.npy RUNS
  torch_bench.py train head|cnn|resblock|lstm|attention RUNS
  torch_bench.py featurize FOLDER RUNS   (ImageFolder + DataLoader, 2 workers,
                                         VGG16 up to block5_pool, batch 8)
"""
import json
import sys
import time

import numpy as np
import torch
import torchvision
from torch import nn

torch.set_num_threads(2)
torch.manual_seed(0)
BATCH = 32


def time_runs(runs, f):
    f()
    ms = []
    for _ in range(runs):
        t = time.perf_counter()
        f()
        ms.append((time.perf_counter() - t) * 1e3)
    return ms


def forward(model, inp, runs):
    net = getattr(torchvision.models, model)(weights=None).eval()
    x = torch.from_numpy(np.load(inp))

    def f():
        with torch.no_grad():
            net(x)
    return time_runs(runs, f)


class ResBlock(nn.Module):
    def __init__(self, c=64, classes=10):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.c2, self.b2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        y = torch.relu(self.b1(self.c1(x)))
        y = torch.relu(self.b2(self.c2(y)) + x)
        return self.fc(y.mean((2, 3)))


class LSTMNet(nn.Module):
    def __init__(self, classes=5):
        super().__init__()
        self.lstm, self.fc = nn.LSTM(64, 256, batch_first=True), nn.Linear(256, classes)

    def forward(self, x):
        return self.fc(self.lstm(x)[0][:, -1])


class AttentionNet(nn.Module):
    def __init__(self, classes=5):
        super().__init__()
        self.mha, self.fc = nn.MultiheadAttention(256, 8, batch_first=True), nn.Linear(256, classes)

    def forward(self, x):
        return self.fc(self.mha(x, x, x, need_weights=False)[0].mean(1))


def train(name, runs):
    classes = 5
    if name == "head":
        net = nn.Sequential(nn.Linear(25088, 4096), nn.ReLU(), nn.Linear(4096, 1024), nn.ReLU(),
                            nn.Linear(1024, 256), nn.ReLU(), nn.Linear(256, classes))
        shape = (25088,)
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    elif name == "cnn":
        classes = 10
        net = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * 8 * 8, 128), nn.ReLU(), nn.Linear(128, classes))
        shape = (3, 32, 32)
        opt = torch.optim.SGD(net.parameters(), lr=0.01)
    elif name == "resblock":
        classes = 10
        net, shape = ResBlock(classes=classes), (64, 28, 28)
        opt = torch.optim.SGD(net.parameters(), lr=0.01)
    elif name == "lstm":
        net, shape = LSTMNet(classes), (50, 64)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    elif name == "attention":
        net, shape = AttentionNet(classes), (64, 256)
        opt = torch.optim.SGD(net.parameters(), lr=0.01)
    else:
        sys.exit("unknown workload " + name)
    net.train()
    x = torch.rand(BATCH, *shape) * 2 - 1
    y = torch.arange(BATCH) % classes
    lossf = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        lossf(net(x), y).backward()
        opt.step()
    return time_runs(runs, step)


def featurize(folder, runs):
    import torchvision.transforms as T
    tf = T.Compose([T.Resize((224, 224)), T.ToTensor(),
                    T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    ds = torchvision.datasets.ImageFolder(folder, transform=tf)
    net = torchvision.models.vgg16(weights=None).features.eval()  # up to block5_pool

    def f():
        loader = torch.utils.data.DataLoader(ds, batch_size=8, num_workers=2)
        with torch.no_grad():
            for x, _ in loader:
                net(x)
    # no warm-up pass: each run is a cold pass over the folder, as a process is
    ms = []
    for _ in range(runs):
        t = time.perf_counter()
        f()
        ms.append((time.perf_counter() - t) * 1e3)
    return ms, len(ds)


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    runs = int(args[-1])
    out = {"threads": torch.get_num_threads(), "version": "torch " + torch.__version__}
    if mode == "forward":
        out["ms"] = forward(args[0], args[1], runs)
    elif mode == "train":
        out["ms"] = train(args[0], runs)
    elif mode == "featurize":
        out["ms"], out["images"] = featurize(args[0], runs)
    else:
        sys.exit("unknown mode " + mode)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
