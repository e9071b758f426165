package domain

import (
	"errors"
	"fmt"
	"strings"
)

type sentinel string

func (s sentinel) Error() string { return string(s) }

// Error kinds of the domain. Every *Error the domain returns matches
// exactly one of them with errors.Is; the outer layers (identity, http)
// declare kinds of their own for the *Error values they return.
const (
	// ErrInvalid: the command's input is malformed or incomplete (HTTP 400/422).
	ErrInvalid = sentinel("invalid input")
	// ErrRule: the input is well formed but the current state forbids it (422).
	ErrRule = sentinel("rule broken")
	// ErrNotFound: the aggregate (or a part of it, like a member) does not exist (404).
	ErrNotFound = sentinel("not found")
	// ErrConflict: the command clashes with what already exists, e.g.
	// registering a household twice or rating a resolution twice (409).
	ErrConflict = sentinel("conflict")
	// ErrErased: a sealed field can no longer be opened because its key was
	// destroyed (erasure under PIPL). The record stays; the value is gone.
	ErrErased = sentinel("erased")
)

// Error is a refusal reported to a caller: a rejected command, or a request
// refused by an outer layer, which uses this same type with a kind of its
// own (http maps every kind to a status in one table). Code is a stable machine code (snake_case,
// e.g. "problem_not_open"); Message and MessageZH say, in English and
// Simplified Chinese, what is wrong and what to do; Field names the offending
// input field (snake_case as in the JSON payloads) when there is one.
type Error struct {
	Kind      error // ErrInvalid, ErrRule, ErrNotFound, ErrConflict, ErrErased, or an outer layer's kind
	Code      string
	Field     string
	Message   string
	MessageZH string
	Err       error // underlying cause, e.g. a calendar error; may be nil
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Unwrap exposes the kind and the cause to errors.Is / errors.As.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Kind, e.Err}
	}
	return []error{e.Kind}
}

// Localized returns the message in the language asked for ("zh…" gives
// Simplified Chinese, anything else English).
func (e *Error) Localized(lang string) string {
	if strings.HasPrefix(strings.ToLower(lang), "zh") {
		return e.MessageZH
	}
	return e.Message
}

// CodeOf returns the code of the *Error in err's chain, or "" if there is none.
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func newError(kind error, code, field, en, zh string) *Error {
	return &Error{Kind: kind, Code: code, Field: field, Message: en, MessageZH: zh}
}

// required reports a missing field. what/whatZH name it for people.
func required(field, what, whatZH string) *Error {
	return newError(ErrInvalid, "required", field,
		fmt.Sprintf("%s is required; fill it in and try again", what),
		fmt.Sprintf("%s为必填项；请填写后重试", whatZH))
}

// badValue reports a value outside an enumeration.
func badValue[T ~string](field, what, whatZH string, v T, allowed ...T) *Error {
	q := Clip(string(v), MaxEchoBytes)
	list := make([]string, len(allowed))
	listZH := make([]string, len(allowed)) // codes quoted in a Chinese text (decision 0087)
	for i, a := range allowed {
		list[i], listZH[i] = string(a), "“"+string(a)+"”"
	}
	return newError(ErrInvalid, "invalid_"+field, field,
		fmt.Sprintf("%q is not a valid %s; use one of: %s", q, what, strings.Join(list, ", ")),
		fmt.Sprintf("%q 不是有效的%s；请使用：%s", q, whatZH, strings.Join(listZH, "、")))
}

func oneOf[T ~string](v T, allowed ...T) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}
