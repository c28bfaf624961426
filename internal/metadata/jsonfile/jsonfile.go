// Package jsonfile reads and writes the broker's JSON config files
// (<storeRoot>/config/topics.json, subscriptionGroup.json,
// consumerOffset.json, …) the way RocketMQ's ConfigManager does, but without
// its window in which a crash leaves a half-written file.
//
// A write replaces the file atomically:
//
//  1. write <file>.tmp and fsync it
//  2. rename <file>     → <file>.bak   (when <file> exists)
//  3. rename <file>.tmp → <file>
//  4. fsync the directory
//
// so that after a crash at any point the directory holds either the old
// file, or the new file with the old one as <file>.bak, or (between steps 2
// and 3) only <file>.bak. Read therefore falls back to <file>.bak when
// <file> is missing, empty, unreadable or rejected by the decoder, as
// RocketMQ's ConfigManager.load does.
//
// RocketMQ writes these files with fastjson, which leaves numeric map keys
// unquoted ({"offsetTable":{"t@g":{0:12}}}); Unmarshal accepts that form as
// well as standard JSON. Marshal writes standard JSON (quoted keys), pretty
// printed with tabs, which fastjson reads back.
//
// The functions are safe for concurrent use on different files; callers
// serialise writes to one file.
package jsonfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/quiver-mq/quiver/internal/vfs"
)

// Suffixes of the files kept next to a config file: the previous version,
// the version being written, and a main file Read could not use.
const (
	BakSuffix     = ".bak"
	TmpSuffix     = ".tmp"
	CorruptSuffix = ".corrupt"
)

// ErrCorrupt is wrapped by the error Read returns when a file exists but
// cannot be decoded and no usable backup exists.
var ErrCorrupt = errors.New("jsonfile: corrupt file")

// Marshal encodes v as pretty JSON (tab indents, no HTML escaping) ending
// in a newline.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "\t")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("jsonfile: encode: %w", err)
	}
	return buf.Bytes(), nil
}

// Unmarshal decodes data into v after quoting bare numeric object keys
// (QuoteNumericKeys), so that files written by fastjson decode.
func Unmarshal(data []byte, v any) error {
	if err := json.Unmarshal(QuoteNumericKeys(data), v); err != nil {
		return fmt.Errorf("jsonfile: decode: %w", err)
	}
	return nil
}

// QuoteNumericKeys returns data with every object key written as a bare
// number ({0:12} or {-1:3}) put in quotes ({"0":12}). Everything else,
// including text inside strings, is left as it is; data that is not JSON
// comes back in a form that still fails to decode. data is returned
// unchanged (not copied) when there is nothing to quote.
func QuoteNumericKeys(data []byte) []byte {
	var out []byte // nil until the first change
	last := 0      // data[last:] has not been copied to out yet
	inString := false
	expectKey := false // the previous token was '{' or ','
	for i := 0; i < len(data); i++ {
		c := data[i]
		if inString {
			switch c {
			case '\\':
				i++ // skip the escaped character
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '"':
			inString = true
			expectKey = false
			continue
		case '{', ',':
			expectKey = true
			continue
		}
		if expectKey && (c == '-' || c >= '0' && c <= '9') {
			j := i + 1
			for j < len(data) && data[j] >= '0' && data[j] <= '9' {
				j++
			}
			k := j
			for k < len(data) && (data[k] == ' ' || data[k] == '\t' || data[k] == '\r' || data[k] == '\n') {
				k++
			}
			if k < len(data) && data[k] == ':' && (c != '-' || j > i+1) {
				out = append(out, data[last:i]...)
				out = append(out, '"')
				out = append(out, data[i:j]...)
				out = append(out, '"')
				last = j
				i = j - 1
			}
		}
		expectKey = false
	}
	if out == nil {
		return data
	}
	return append(out, data[last:]...)
}

// Write replaces path with data atomically, keeping the previous contents
// as path+".bak" (see the package comment). The directory must exist.
//
// An error leaves the previous file or its backup in place; Read returns
// either the old or the new contents.
func Write(fs vfs.FS, path string, data []byte) (err error) {
	tmp := path + TmpSuffix
	f, err := fs.Create(tmp)
	if err != nil {
		return fmt.Errorf("jsonfile: %w", err)
	}
	defer func() {
		if err != nil {
			_ = fs.Remove(tmp) // best effort; a stale tmp is overwritten next time
		}
	}()
	if _, err := f.WriteAt(data, 0); err != nil {
		_ = f.Close()
		return fmt.Errorf("jsonfile: write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("jsonfile: sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("jsonfile: close %s: %w", tmp, err)
	}
	if _, err := fs.Stat(path); err == nil {
		if err := fs.Rename(path, path+BakSuffix); err != nil {
			return fmt.Errorf("jsonfile: %w", err)
		}
	} else if !vfs.IsNotExist(err) {
		return fmt.Errorf("jsonfile: %w", err)
	}
	if err := fs.Rename(tmp, path); err != nil {
		return fmt.Errorf("jsonfile: %w", err)
	}
	if err := fs.SyncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("jsonfile: sync directory of %s: %w", path, err)
	}
	return nil
}

// Read loads path, falling back to path+".bak". It calls decode with the
// contents of the first candidate that exists and is not empty; if decode
// fails (or the file cannot be read) it tries the backup. decode must leave
// no trace when it fails: decode into a fresh value and keep it only on
// success.
//
// Read returns the name of the file that decode accepted, or "" with a nil
// error when neither file exists (or both are empty): a fresh start. When a
// file exists but neither it nor the backup decodes, the error wraps
// ErrCorrupt and the decoder's or the file system's error.
//
// When Read falls back to the backup because the main file exists but is
// unusable, it renames the main file to path+".corrupt" (replacing an older
// one) so that the next Write does not turn it into the backup. Callers
// should then Write what they loaded at once.
func Read(fs vfs.FS, path string, decode func([]byte) error) (string, error) {
	var errs []error
	for _, name := range []string{path, path + BakSuffix} {
		data, err := readFile(fs, name)
		switch {
		case vfs.IsNotExist(err):
			continue
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		case len(bytes.TrimSpace(data)) == 0:
			continue // RocketMQ treats an empty file as missing
		}
		if err := decode(data); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		if name != path && len(errs) > 0 {
			// Best effort: if it fails, the next Write keeps the bad file
			// as the backup, which the good main file then shadows.
			_ = fs.Rename(path, path+CorruptSuffix)
		}
		return name, nil
	}
	if len(errs) == 0 {
		return "", nil
	}
	return "", fmt.Errorf("jsonfile: %s: %w: %w", path, ErrCorrupt, errors.Join(errs...))
}

// readFile reads a whole file through fs.
func readFile(fs vfs.FS, name string) ([]byte, error) {
	f, err := fs.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("%s is a directory", name)
	}
	buf := make([]byte, fi.Size())
	n, err := f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return buf[:n], nil
}

// EnsureDir creates dir and any missing parents, and makes dir's entry
// durable by syncing its parent (and the parent of every directory it
// created). It syncs even when dir exists, since whoever created it may not
// have.
func EnsureDir(fs vfs.FS, dir string) error {
	dir = filepath.Clean(dir)
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := fs.Stat(d); err == nil {
			break
		} else if !vfs.IsNotExist(err) {
			return fmt.Errorf("jsonfile: %w", err)
		}
		missing = append(missing, d)
		if p := filepath.Dir(d); p == d {
			break
		}
	}
	if len(missing) > 0 {
		if err := fs.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("jsonfile: %w", err)
		}
	} else {
		missing = []string{dir}
	}
	// Sync from the top down so that each entry is durable before the
	// entries below it are.
	for i := len(missing) - 1; i >= 0; i-- {
		if err := fs.SyncDir(filepath.Dir(missing[i])); err != nil {
			return fmt.Errorf("jsonfile: sync directory of %s: %w", missing[i], err)
		}
	}
	return nil
}
