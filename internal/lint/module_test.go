package lint

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/build/constraint"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// module is the parsed source of the module under test.
type module struct {
	root  string // directory holding go.mod
	path  string // module path from go.mod
	fset  *token.FileSet
	files []goFile
}

// goFile is one parsed .go file of the module.
type goFile struct {
	rel  string // slash-separated path relative to the module root
	dir  string // slash-separated package directory relative to the root; "." for the root
	test bool   // a _test.go file
	ast  *ast.File
}

// importPath returns the import path of the package in module-relative dir.
func (m *module) importPath(dir string) string {
	if dir == "." {
		return m.path
	}
	return m.path + "/" + dir
}

// loadModule parses every .go file of the module that contains the test's
// working directory, the way the go command would see them for any GOOS and
// build tag: it skips vendor and testdata directories, names starting with
// "." or "_", nested modules, and files constrained with the "ignore" tag.
func loadModule(t *testing.T) *module {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, err := findModuleRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	modPath, err := readModulePath(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := &module{root: root, path: modPath, fset: token.NewFileSet()}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p == root {
				return nil
			}
			if name == "vendor" || name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
				return filepath.SkipDir // a nested module is not ours to check
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
			return nil
		}
		f, err := parser.ParseFile(m.fset, p, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		if ignored(f) {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		m.files = append(m.files, goFile{
			rel:  rel,
			dir:  path.Dir(rel),
			test: strings.HasSuffix(name, "_test.go"),
			ast:  f,
		})
		return nil
	})
	if err != nil {
		t.Fatalf("reading the module's sources: %v", err)
	}
	if len(m.files) == 0 {
		t.Fatalf("no Go files found under %s", root)
	}
	return m
}

// findModuleRoot walks up from dir to the directory holding go.mod.
func findModuleRoot(dir string) (string, error) {
	for d := dir; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("no go.mod in %s or any parent", dir)
		}
		d = parent
	}
}

// readModulePath returns the path named by the module directive of go.mod.
func readModulePath(gomod string) (string, error) {
	data, err := os.ReadFile(gomod)
	if err != nil {
		return "", err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module"); ok {
			if p := strings.Trim(strings.TrimSpace(rest), `"`); p != "" {
				return p, nil
			}
		}
	}
	return "", errors.New(gomod + ": no module directive")
}

// ignored reports whether the file's build constraint is exactly
// "//go:build ignore", the conventional mark of a generator or one-off tool
// that is never part of the package.
func ignored(f *ast.File) bool {
	for _, cg := range f.Comments {
		if cg.Pos() >= f.Package {
			break
		}
		for _, c := range cg.List {
			if !constraint.IsGoBuild(c.Text) {
				continue
			}
			expr, err := constraint.Parse(c.Text)
			if err != nil {
				continue
			}
			if tag, ok := expr.(*constraint.TagExpr); ok && tag.Tag == "ignore" {
				return true
			}
		}
	}
	return false
}

// imports returns, per package directory, the sorted import paths of its
// non-test files. Directories holding only tests are left out.
func (m *module) imports() map[string][]string {
	pkgs := make(map[string][]string)
	for _, f := range m.files {
		if f.test {
			continue
		}
		imps := pkgs[f.dir]
		for _, spec := range f.ast.Imports {
			imps = append(imps, strings.Trim(spec.Path.Value, `"`))
		}
		pkgs[f.dir] = imps
	}
	for dir, imps := range pkgs {
		slices.Sort(imps)
		pkgs[dir] = slices.Compact(imps)
	}
	return pkgs
}
