package zoo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Pull returns the cached path of a weights file, downloading it first if
// needed. A broken download is resumed with an HTTP Range request (also
// across runs: the partial file is kept as <file>.part); the finished file
// is checked against the published checksum, and a mismatch deletes it.
func (c *Cache) Pull(ctx context.Context, w Weights) (string, error) {
	if p, ok := c.Cached(w); ok {
		return p, nil
	}
	if w.URL == "" {
		return "", fmt.Errorf("%s has no download address; register a file you have", w.File)
	}
	final := c.Path(w)
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return "", err
	}
	part := final + ".part"
	var bar *progressbar.ProgressBar
	if c.Progress != nil {
		bar = progressbar.NewOptions64(-1,
			progressbar.OptionSetWriter(c.Progress),
			progressbar.OptionSetDescription(filepath.Base(w.File)),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowCount(),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(c.Progress) }),
		)
	}
	retries := c.Retries
	if retries <= 0 {
		retries = 5
	}
	for attempt := 0; ; attempt++ {
		err := c.fetch(ctx, w.URL, part, bar)
		if err == nil {
			break
		}
		var he *HTTPError
		if ctx.Err() != nil || (errors.As(err, &he) && he.Code < 500) || attempt >= retries {
			if st, serr := os.Stat(part); serr == nil && st.Size() > 0 {
				return "", fmt.Errorf("%w (the partial download is kept in %s; pull again to resume)", err, part)
			}
			return "", err
		}
		if c.Progress != nil {
			fmt.Fprintf(c.Progress, "\n%v; resuming\n", err)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(time.Duration(attempt*attempt) * 100 * time.Millisecond):
		}
	}
	if bar != nil {
		bar.Finish()
	}
	sha, err := c.verify(w, part)
	if err != nil {
		var ce *ChecksumError
		if errors.As(err, &ce) {
			ce.File = w.File
			ce.Removed = os.Remove(part) == nil
		}
		return "", err
	}
	if err := os.Rename(part, final); err != nil {
		return "", err
	}
	if sha != "" {
		if err := c.recordSHA256(w, sha); err != nil {
			return "", err
		}
	}
	return final, nil
}

// fetch appends the rest of url to part, starting where part ends.
func (c *Cache) fetch(ctx context.Context, url, part string, bar *progressbar.ProgressBar) error {
	var have int64
	if st, err := os.Stat(part); err == nil {
		have = st.Size()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
	}
	client := c.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	flags := os.O_CREATE | os.O_WRONLY
	total := int64(-1)
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0:
		start, size, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || start != have {
			// the server resumed somewhere else: start over
			os.Remove(part)
			return fmt.Errorf("server resumed at an unexpected offset (%q)", resp.Header.Get("Content-Range"))
		}
		flags |= os.O_APPEND
		total = size
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && have > 0:
		return nil // the partial file is already whole; the checksum decides
	case resp.StatusCode == http.StatusOK:
		have, flags = 0, flags|os.O_TRUNC
		total = resp.ContentLength
	default:
		return &HTTPError{URL: url, Status: resp.Status, Code: resp.StatusCode}
	}
	f, err := os.OpenFile(part, flags, 0o644)
	if err != nil {
		return err
	}
	var dst io.Writer = f
	if bar != nil {
		if total > 0 {
			bar.ChangeMax64(total)
		}
		bar.Set64(have)
		dst = io.MultiWriter(f, bar)
	}
	n, err := io.Copy(dst, resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("download %s: %w", url, err)
	}
	if total > 0 && have+n < total {
		return fmt.Errorf("download %s: %w (%d of %d bytes)", url, errIncomplete, have+n, total)
	}
	return nil
}

// parseContentRange reads "bytes START-END/SIZE" (SIZE may be "*").
func parseContentRange(s string) (start, size int64, ok bool) {
	s, found := strings.CutPrefix(s, "bytes ")
	if !found {
		return 0, 0, false
	}
	rng, sz, found := strings.Cut(s, "/")
	if !found {
		return 0, 0, false
	}
	a, _, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, false
	}
	start, err := strconv.ParseInt(a, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	size = -1
	if sz != "*" {
		if size, err = strconv.ParseInt(sz, 10, 64); err != nil {
			return 0, 0, false
		}
	}
	return start, size, true
}
