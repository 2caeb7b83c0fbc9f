// Command pretrain reproduces demo/assets/digits04.h5: it trains the demo
// CNN on the digits 0-4 of the embedded 8x8 digits data and exports it as a
// Keras HDF5 file. Run from the repository root:
//
//	go run ./demo/pretrain [-out demo/assets/digits04.h5]
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/retarget-dev/retarget/demo"
	kexport "github.com/retarget-dev/retarget/exporters/keras"
	"github.com/retarget-dev/retarget/ir"
	"github.com/retarget-dev/retarget/nn"
)

func main() {
	out := flag.String("out", "demo/assets/digits04.h5", "Keras HDF5 file to write")
	epochs := flag.Int("epochs", 15, "training epochs")
	flag.Parse()
	if err := run(*out, *epochs); err != nil {
		fmt.Fprintln(os.Stderr, "pretrain:", err)
		os.Exit(1)
	}
}

func run(out string, epochs int) error {
	d, err := demo.LoadDigits(0, 1, 2, 3, 4)
	if err != nil {
		return err
	}
	train, test, err := d.Split(0.25, 7)
	if err != nil {
		return err
	}
	g := demo.NewDigitsCNN(5)
	g.Name = "digits04"
	if err := nn.InitGraph(g, ir.InitXavierUniform, 42); err != nil {
		return err
	}
	net, err := nn.Compile(g)
	if err != nil {
		return err
	}
	it, err := nn.NewArrayIterator(train.X, train.Y, 32, true, 42)
	if err != nil {
		return err
	}
	val, err := nn.NewArrayIterator(test.X, test.Y, 128, false, 0)
	if err != nil {
		return err
	}
	_, err = net.Fit(it, nn.FitConfig{Epochs: epochs, Seed: 42, Validation: val, OnEpoch: func(e nn.EpochInfo) error {
		fmt.Printf("epoch %2d  loss %.4f  val accuracy %.3f\n", e.Epoch+1, e.Loss, e.ValEval.Accuracy())
		return nil
	}})
	if err != nil {
		return err
	}
	g.Meta["trained_on"] = "sklearn digits 0-4 (8x8), 75% split, seed 7"
	if err := kexport.Export(out, g); err != nil {
		return err
	}
	fmt.Println("wrote", out)
	return nil
}
