// Package lenient reads scalar values the way users and Pulsar's tools write
// them in JSON and YAML configuration: numbers as JSON numbers, Go numbers
// from a YAML decoder, json.Number, or decimal text ("500", " 3.0 "); booleans
// as booleans or "true"/"false". Both the sink config (conf) and the instance
// config (runtime) decode with these, so one value means the same in both.
package lenient

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ErrRange says the value is a whole number that does not fit.
var ErrRange = errors.New("out of range")

// ErrSyntax says the value is not a whole number at all.
var ErrSyntax = errors.New("not a whole number")

// Text is the decimal text of a numeric value, trimmed, or "" when v is not
// a number or a string.
func Text(v any) string {
	switch x := v.(type) {
	case json.Number:
		return x.String()
	case string:
		return strings.TrimSpace(x)
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return fmt.Sprint(x)
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 64)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return ""
}

// Int reads a whole number that fits a signed integer of the given bits:
// integers, integral floats (3.0, as JSON decoders give numbers) and
// integer text (" 500 "). Text like "3.0" is refused, as Java's
// Integer.parseInt refuses it; see IntCoerced.
func Int(v any, bits int) (int64, error) {
	return wholeInt(v, bits, false)
}

// IntCoerced is Int that also takes integral decimal text ("3.0"), as
// Jackson coerces it when it reads the functions instance config.
func IntCoerced(v any, bits int) (int64, error) {
	return wholeInt(v, bits, true)
}

func wholeInt(v any, bits int, floatText bool) (int64, error) {
	text := Text(v)
	n, err := strconv.ParseInt(text, 10, bits)
	if err == nil {
		return n, nil
	}
	var ne *strconv.NumError
	if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
		return 0, ErrRange
	}
	if _, isText := v.(string); isText && !floatText {
		return 0, ErrSyntax
	}
	f, ferr := strconv.ParseFloat(text, 64)
	if ferr != nil || math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) {
		return 0, ErrSyntax
	}
	// -2^(bits-1) and 2^(bits-1) are exact in a float64.
	if f < -math.Exp2(float64(bits-1)) || f >= math.Exp2(float64(bits-1)) {
		return 0, ErrRange
	}
	return int64(f), nil
}

// Uint reads a non-negative whole number, taking integral text as
// IntCoerced does.
func Uint(v any) (uint64, error) {
	text := Text(v)
	n, err := strconv.ParseUint(text, 10, 64)
	if err == nil {
		return n, nil
	}
	f, ferr := strconv.ParseFloat(text, 64)
	if ferr != nil || math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) {
		return 0, ErrSyntax
	}
	if f < 0 || f >= math.Exp2(64) {
		return 0, ErrRange
	}
	return uint64(f), nil
}

// Float reads a finite number or its decimal text.
func Float(v any) (float64, bool) {
	f, err := strconv.ParseFloat(Text(v), 64)
	return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
}

// Bool reads a boolean, or "true"/"false" in any case with spaces around.
func Bool(v any) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	return false, false
}
