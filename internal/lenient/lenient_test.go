package lenient

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestInt(t *testing.T) {
	for _, c := range []struct {
		in   any
		bits int
		want int64
		err  error
	}{
		{500, 64, 500, nil}, {int64(-3), 64, -3, nil}, {uint8(7), 64, 7, nil},
		{3.0, 64, 3, nil}, {float32(2), 32, 2, nil}, {json.Number("42"), 64, 42, nil}, {json.Number("4e2"), 64, 400, nil},
		{" 500 ", 64, 500, nil}, {"3.0", 64, 0, ErrSyntax},
		{"1.5", 64, 0, ErrSyntax}, {1.5, 64, 0, ErrSyntax}, {"abc", 64, 0, ErrSyntax}, {"", 64, 0, ErrSyntax},
		{true, 64, 0, ErrSyntax}, {nil, 64, 0, ErrSyntax}, {map[string]any{}, 64, 0, ErrSyntax},
		{"2147483648", 32, 0, ErrRange}, {2147483648.0, 32, 0, ErrRange}, {uint64(1 << 63), 64, 0, ErrRange},
		{9.3e18, 64, 0, ErrRange}, {"-9223372036854775808", 64, -9223372036854775808, nil},
	} {
		got, err := Int(c.in, c.bits)
		if got != c.want || !errors.Is(err, c.err) {
			t.Errorf("Int(%#v, %d) = %d, %v; want %d, %v", c.in, c.bits, got, err, c.want, c.err)
		}
	}
}

func TestIntCoerced(t *testing.T) {
	if n, err := IntCoerced(" 3.0", 64); err != nil || n != 3 {
		t.Errorf("IntCoerced(3.0) = %d, %v", n, err)
	}
	if _, err := IntCoerced("3.5", 64); !errors.Is(err, ErrSyntax) {
		t.Errorf("IntCoerced(3.5): %v", err)
	}
	if _, err := IntCoerced("4294967296.0", 32); !errors.Is(err, ErrRange) {
		t.Errorf("IntCoerced over 32 bits: %v", err)
	}
}

func TestUintFloatBool(t *testing.T) {
	if n, err := Uint("18446744073709551615"); err != nil || n != 1<<64-1 {
		t.Errorf("Uint max: %d %v", n, err)
	}
	if _, err := Uint(-1); !errors.Is(err, ErrRange) {
		t.Errorf("Uint(-1): %v", err)
	}
	if _, err := Uint("x"); !errors.Is(err, ErrSyntax) {
		t.Errorf("Uint(x): %v", err)
	}
	if _, err := Uint(-1.0); !errors.Is(err, ErrRange) {
		t.Errorf("Uint(-1.0): %v", err)
	}
	if f, ok := Float(" 0.25"); !ok || f != 0.25 {
		t.Errorf("Float: %v %v", f, ok)
	}
	if _, ok := Float("NaN"); ok {
		t.Error("NaN accepted")
	}
	for in, want := range map[any]bool{true: true, " TRUE ": true, "false": false} {
		if b, ok := Bool(in); !ok || b != want {
			t.Errorf("Bool(%#v) = %v %v", in, b, ok)
		}
	}
	for _, in := range []any{"yes", 1, "", nil} {
		if _, ok := Bool(in); ok {
			t.Errorf("Bool(%#v) accepted", in)
		}
	}
}
