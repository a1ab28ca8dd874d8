// Package layering checks that imports point one way through the layers of
// wakesleep: engine ← layers ← models ← objectives ← training ← experiments ←
// evaluation ← command line.
package layering

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/wakesleep/wakesleep/"

// rank orders the packages; a package may import only packages of lower rank.
// Leaf utilities (readers, checkpoint files, images, logs) sit just above
// tensor so that every layer may use them and they use no layer above tensor.
var rank = map[string]int{
	"blas":                  0,
	"blas/internal/rawblas": 0,
	"tensor":                10,
	"internal/atomicfile":   15,
	"internal/regular":      5,
	"internal/buildinfo":    5,
	"internal/gcpolicy":     5,
	"internal/progress":     15,
	"data/idx":              15,
	"data/mnist":            16,
	"data/movingmnist":      17,
	"data/cifar10":          16,
	"checkpoint":            16,
	"imaging":               16,
	"metrics":               16,
	"report":                18,
	"autodiff":              20,
	"autodiff/gradcheck":    25,
	"nn":                    30,
	"optim":                 35,
	"model":                 40,
	"objective":             50,
	"train":                 60,
	// Each experiment binds a model to its objective, data and pictures
	// on top of the one trainer, in a folder of its own (experimentRank);
	// experiment registers them all. The mnist experiment is a base others
	// build on (Fashion-MNIST, the digits of Moving MNIST).
	"experiment/mnist":   62,
	"experiment/cifar10": 62,
	"experiment":         65,
	"eval":               70,
	"probe":              80,
	"internal/sweep":     85,
	"internal/cli":       90,
	"cmd/wakesleep":      100,
	"bench/gostep":       100,
	"scripts/studyplot":  100,
	"internal/layering":  100,
}

// experimentRank is the rank of every other experiment/<name> package: above
// the mnist experiment, below the registry. A new experiment needs no line
// here.
const experimentRank = 63

// rankOf returns a package's rank.
func rankOf(pkg string) (int, bool) {
	if r, ok := rank[pkg]; ok {
		return r, true
	}
	if rest, ok := strings.CutPrefix(pkg, "experiment/"); ok && !strings.Contains(rest, "/") {
		return experimentRank, true
	}
	return 0, false
}

func TestImportsPointDownward(t *testing.T) {
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if name == "testdata" || (strings.HasPrefix(name, ".") && path != root) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		pkg := filepath.ToSlash(rel)
		r, ok := rankOf(pkg)
		if !ok {
			t.Errorf("package %s has no place in the layering table: add it", pkg)
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if !strings.HasPrefix(p, module) {
				continue
			}
			dep := strings.TrimPrefix(p, module)
			dr, ok := rankOf(dep)
			if !ok {
				t.Errorf("%s imports %s, which has no place in the layering table", path, dep)
				continue
			}
			if dr >= r {
				t.Errorf("%s (%s, rank %d) imports %s (rank %d): imports must point down the layers", path, pkg, r, dep, dr)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
