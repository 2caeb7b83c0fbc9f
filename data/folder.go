package data

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ImageFile is one example of an image folder.
type ImageFile struct {
	Path  string
	Class int
}

// ImageFolder is a data set laid out as one subfolder per class.
type ImageFolder struct {
	Root    string
	Classes []string // subfolder names, sorted; class i is Classes[i]
	Files   []ImageFile
}

var imageExt = map[string]bool{".jpg": true, ".jpeg": true, ".png": true, ".gif": true}

// ScanImageFolder lists root/<class>/<image> files (JPEG, PNG, GIF by
// extension; hidden files skipped). Classes are the subfolders, sorted by
// name, as Keras's image_dataset_from_directory numbers them.
func ScanImageFolder(root string) (*ImageFolder, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("image folder: %w", err)
	}
	f := &ImageFolder{Root: root}
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			f.Classes = append(f.Classes, e.Name())
		}
	}
	sort.Strings(f.Classes)
	if len(f.Classes) == 0 {
		return nil, fmt.Errorf("image folder %s has no class subfolders: put each class's images in a folder of its own", root)
	}
	for ci, c := range f.Classes {
		var files []string
		err := filepath.WalkDir(filepath.Join(root, c), func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if strings.HasPrefix(d.Name(), ".") && p != filepath.Join(root, c) {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.IsDir() && imageExt[strings.ToLower(filepath.Ext(p))] {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("image folder: %w", err)
		}
		sort.Strings(files)
		for _, p := range files {
			f.Files = append(f.Files, ImageFile{Path: p, Class: ci})
		}
	}
	if len(f.Files) == 0 {
		return nil, fmt.Errorf("image folder %s has no .jpg, .jpeg, .png or .gif files in its class folders", root)
	}
	return f, nil
}

// Split divides the files into a training and a test part, drawing
// testFraction of each class's files at random from seed (stratified, so
// every class is in both parts when it has at least two files).
func (f *ImageFolder) Split(testFraction float64, seed int64) (train, test []ImageFile, err error) {
	if testFraction < 0 || testFraction >= 1 {
		return nil, nil, fmt.Errorf("test fraction must be in [0, 1), got %g", testFraction)
	}
	byClass := make([][]ImageFile, len(f.Classes))
	for _, x := range f.Files {
		byClass[x.Class] = append(byClass[x.Class], x)
	}
	rng := rand.New(rand.NewSource(seed))
	for _, files := range byClass {
		perm := rng.Perm(len(files))
		nTest := int(float64(len(files))*testFraction + 0.5)
		if testFraction > 0 && nTest == 0 && len(files) > 1 {
			nTest = 1
		}
		for i, p := range perm {
			if i < nTest {
				test = append(test, files[p])
			} else {
				train = append(train, files[p])
			}
		}
	}
	sortFiles(train)
	sortFiles(test)
	return train, test, nil
}

func sortFiles(fs []ImageFile) {
	sort.Slice(fs, func(i, j int) bool { return fs[i].Path < fs[j].Path })
}
