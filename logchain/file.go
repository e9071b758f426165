package logchain

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// The heads file keeps a copy of every head a signer made, one JSON object
// per line, outside the database: a head removed from the log together with
// the events it covers is still found here.

// maxHeadLine bounds one line of a heads file.
const maxHeadLine = 4 << 10

// AppendFile appends h to the heads file at path, creating it (mode 0600),
// and syncs it. A last line cut short by a crash is closed first, so the
// new head is never glued to it.
func AppendFile(path string, h Head) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("heads file: %w / 无法打开签名头文件", err)
	}
	defer f.Close()
	line, err := json.Marshal(h)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	if fi, err := f.Stat(); err == nil && fi.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, fi.Size()-1); err == nil && last[0] != '\n' {
			line = append([]byte{'\n'}, line...)
		}
	}
	if _, err := f.Write(line); err != nil {
		return fmt.Errorf("heads file %s: %w / 无法写入签名头文件", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("heads file %s: %w / 无法写入签名头文件", path, err)
	}
	return nil
}

// ReadFile reads the heads in the file at path; a missing file has none.
// A last line without its newline (cut short by a crash) is skipped; any
// other line that is not a head is an error naming it.
func ReadFile(path string) ([]Head, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("heads file: %w / 无法读取签名头文件", err)
	}
	defer f.Close()
	return readHeads(f, path)
}

func readHeads(r io.Reader, name string) ([]Head, error) {
	br := bufio.NewReaderSize(r, maxHeadLine+1)
	var heads []Head
	for n := 1; ; n++ {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return heads, fmt.Errorf("%s line %d is longer than %d bytes; it is not a signed head / 第 %d 行过长，不是签名头", name, n, maxHeadLine, n)
		}
		if errors.Is(err, io.EOF) {
			return heads, nil // a torn last line, or none
		}
		if err != nil {
			return heads, err
		}
		if len(line) <= 1 {
			continue
		}
		var h Head
		if err := json.Unmarshal(line, &h); err != nil {
			return heads, fmt.Errorf("%s line %d is not a signed head: %v / 第 %d 行不是签名头", name, n, err, n)
		}
		heads = append(heads, h)
	}
}
