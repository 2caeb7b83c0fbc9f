package main

import (
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progressOut is where bars go: stderr when it is a terminal, else nowhere
// (so logs and pipes stay clean).
func progressOut(stderr io.Writer) io.Writer {
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return f
	}
	return nil
}

// newBar returns a bar counting to total (-1: a spinner), or nil when
// progress is not shown.
func newBar(stderr io.Writer, total int64, what string) *progressbar.ProgressBar {
	out := progressOut(stderr)
	if out == nil {
		return nil
	}
	return progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(out),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionOnCompletion(func() {}),
	)
}

// withSpinner runs fn while a spinner shows what is happening (only on a
// terminal, only once fn has taken a moment).
func withSpinner[T any](stderr io.Writer, what string, fn func() (T, error)) (T, error) {
	if progressOut(stderr) == nil {
		return fn()
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case <-done:
			return
		case <-time.After(500 * time.Millisecond):
		}
		bar := newBar(stderr, -1, what)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				bar.Finish()
				return
			case <-t.C:
				bar.Add(1)
			}
		}
	}()
	v, err := fn()
	close(done)
	<-stopped
	return v, err
}

// bars shows one progress bar per stage of a run ("featurize train",
// "fit", …), each replaced by the next.
type bars struct {
	stderr io.Writer
	what   string
	bar    *progressbar.ProgressBar
}

func newBars(stderr io.Writer) *bars { return &bars{stderr: stderr} }

func (b *bars) update(what string, done, total int) {
	if what != b.what {
		b.finish()
		b.what = what
		b.bar = newBar(b.stderr, int64(total), what)
	}
	if b.bar != nil {
		b.bar.Set(done)
	}
}

func (b *bars) finish() {
	if b.bar != nil {
		b.bar.Finish()
	}
	b.bar, b.what = nil, ""
}
