package data

import (
	"errors"
	"fmt"
	"io"
	"math/rand"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
)

// ImageOptions configure an ImageIterator.
type ImageOptions struct {
	ImageTransform
	// Layout is the layout of the model input the batches feed: NHWC
	// (Keras; the default) or NCHW.
	Layout     ir.Layout
	BatchSize  int
	Shuffle    bool
	Seed       int64
	NumClasses int // default: the folder's class count
	Labels     LabelMode
	// Workers decode in parallel (default GOMAXPROCS); Prefetch is how
	// many decoded batches wait ahead of the engine (default 2).
	Workers  int
	Prefetch int
	// Warn receives one line per skipped image (nil: silent).
	Warn io.Writer
}

// ImageIterator yields decoded, preprocessed image batches. Decoding runs
// in Workers goroutines up to Prefetch batches ahead of Next. Images that
// cannot be decoded are skipped with a warning and counted.
type ImageIterator struct {
	files   []ImageFile
	opt     ImageOptions
	epoch   int64
	skipped atomic.Int64
	warnMu  sync.Mutex
	warned  map[string]bool
	out     chan batchResult
	stop    chan struct{}
	wg      sync.WaitGroup
}

type batchResult struct {
	b   *nn.Batch
	err error
}

// NewImageIterator iterates over files (from ScanImageFolder or Split).
func NewImageIterator(files []ImageFile, o ImageOptions) (*ImageIterator, error) {
	if len(files) == 0 {
		return nil, errors.New("no image files to iterate over")
	}
	if o.Height <= 0 || o.Width <= 0 {
		return nil, fmt.Errorf("image size %dx%d: give a positive height and width", o.Height, o.Width)
	}
	if o.Channels == 0 {
		o.Channels = 3
	}
	if o.Channels != 1 && o.Channels != 3 {
		return nil, fmt.Errorf("images have 1 or 3 channels, not %d", o.Channels)
	}
	switch o.Layout {
	case "", ir.LayoutNHWC:
		o.Layout = ir.LayoutNHWC
	case ir.LayoutNCHW:
	default:
		return nil, fmt.Errorf("image batches are NHWC or NCHW, not %q", o.Layout)
	}
	o.ChannelsFirst = o.Layout == ir.LayoutNCHW
	if o.BatchSize <= 0 {
		o.BatchSize = 32
	}
	if o.Labels == "" {
		o.Labels = OneHot
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Prefetch <= 0 {
		o.Prefetch = 2
	}
	k := 0
	for _, f := range files {
		k = max(k, f.Class+1)
	}
	if o.NumClasses == 0 {
		o.NumClasses = k
	} else if k > o.NumClasses {
		return nil, fmt.Errorf("a file has class %d but there are only %d classes", k-1, o.NumClasses)
	}
	if o.Preset == "" {
		o.Preset = PresetUnit
	}
	it := &ImageIterator{files: files, opt: o, epoch: -1, warned: map[string]bool{}}
	it.Reset()
	return it, nil
}

// Len is the number of image files (skipped ones included).
func (it *ImageIterator) Len() int { return len(it.files) }

// NumClasses is the label width.
func (it *ImageIterator) NumClasses() int { return it.opt.NumClasses }

// Skipped counts the images that could not be decoded (each file once per
// epoch it was tried).
func (it *ImageIterator) Skipped() int64 { return it.skipped.Load() }

// Reset stops the current epoch's decoding and starts the next epoch.
func (it *ImageIterator) Reset() error {
	it.Close()
	it.epoch++
	order := make([]int, len(it.files))
	for i := range order {
		order[i] = i
	}
	if it.opt.Shuffle {
		rand.New(rand.NewSource(it.opt.Seed*1000003+it.epoch)).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	}
	it.out = make(chan batchResult, it.opt.Prefetch)
	it.stop = make(chan struct{})
	it.wg.Add(1)
	go it.produce(order, it.epoch, it.out, it.stop)
	return nil
}

// Close stops background decoding (Reset restarts it).
func (it *ImageIterator) Close() error {
	if it.stop != nil {
		close(it.stop)
		for range it.out { // drain so the producer can finish
		}
		it.wg.Wait()
		it.stop = nil
	}
	return nil
}

// Next returns the next batch or io.EOF.
func (it *ImageIterator) Next() (*nn.Batch, error) {
	if it.stop == nil {
		return nil, io.EOF
	}
	r, ok := <-it.out
	if !ok {
		return nil, io.EOF
	}
	return r.b, r.err
}

// produce decodes the epoch's batches in order, each in parallel.
func (it *ImageIterator) produce(order []int, epoch int64, out chan<- batchResult, stop <-chan struct{}) {
	defer it.wg.Done()
	defer close(out)
	o := it.opt
	per := o.Height * o.Width * o.Channels
	for lo := 0; lo < len(order); lo += o.BatchSize {
		hi := min(lo+o.BatchSize, len(order))
		n := hi - lo
		pix := make([]float32, n*per)
		ok := make([]bool, n)
		var wg sync.WaitGroup
		next := atomic.Int64{}
		for w := 0; w < min(o.Workers, n); w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1) - 1)
					if i >= n {
						return
					}
					f := it.files[order[lo+i]]
					// per-image seed: the same epoch gives the same augmentation
					// whatever the worker scheduling
					rng := rand.New(rand.NewSource(o.Seed ^ (epoch+1)*7919 ^ int64(order[lo+i])*104729))
					if err := o.LoadImage(f.Path, pix[i*per:(i+1)*per], rng); err != nil {
						it.warn(f.Path, err)
						continue
					}
					ok[i] = true
				}
			}()
		}
		wg.Wait()
		var classes []int
		kept := 0
		for i := 0; i < n; i++ {
			if !ok[i] {
				continue
			}
			copy(pix[kept*per:(kept+1)*per], pix[i*per:(i+1)*per])
			classes = append(classes, it.files[order[lo+i]].Class)
			kept++
		}
		if kept == 0 {
			continue
		}
		shape := []int{kept, o.Height, o.Width, o.Channels}
		if o.ChannelsFirst {
			shape = []int{kept, o.Channels, o.Height, o.Width}
		}
		b := &nn.Batch{
			Inputs: []*ir.Tensor{ir.FromData(pix[:kept*per], shape...)},
			Labels: []*ir.Tensor{classLabels(classes, o.NumClasses, o.Labels)},
		}
		select {
		case out <- batchResult{b: b}:
		case <-stop:
			return
		}
	}
}

func (it *ImageIterator) warn(path string, err error) {
	it.skipped.Add(1)
	it.warnMu.Lock()
	defer it.warnMu.Unlock()
	if it.opt.Warn != nil && !it.warned[path] {
		it.warned[path] = true
		fmt.Fprintf(it.opt.Warn, "warning: skipping %v\n", err)
	}
}
