package expand

import (
	"math"
	"math/big"
	"strconv"
)

// appendJavaDouble appends Double.toString(v) (bitSize 64) or
// Float.toString(float32(v)) (bitSize 32) as Java 19 and later print them:
// the shortest decimal that rounds back to v (among one- and two-digit
// decimals when one digit suffices, the closest to v), laid out plainly for
// 1e-3 <= |v| < 1e7 and as d.dddEn otherwise, always with a fractional digit.
// NaN and infinities come out as NaN, Infinity, -Infinity (unquoted).
func appendJavaDouble(dst []byte, v float64, bitSize int) []byte {
	switch {
	case math.IsNaN(v):
		return append(dst, "NaN"...)
	case math.IsInf(v, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(v, -1):
		return append(dst, "-Infinity"...)
	case v == 0:
		if math.Signbit(v) {
			return append(dst, "-0.0"...)
		}
		return append(dst, "0.0"...)
	}
	var tmp [32]byte
	digits, exp := shortestDigits(tmp[:0], v, bitSize)
	if v < 0 {
		dst = append(dst, '-')
	}
	return appendJavaLayout(dst, digits, exp)
}

// shortestDigits returns the significant digits d1d2…dn (no trailing zeros)
// and the exponent e with |v| = d1.d2…dn × 10^e, following the Java 19+
// selection rule.
func shortestDigits(buf []byte, v float64, bitSize int) ([]byte, int) {
	s := strconv.AppendFloat(buf, math.Abs(v), 'e', -1, bitSize)
	digits, exp := splitE(s)
	if len(digits) == 1 {
		// Java also considers two-digit decimals when one digit suffices and
		// picks the one closest to v (this only changes subnormals such as
		// Double.MIN_VALUE, printed 4.9E-324 rather than 5.0E-324).
		var tmp [32]byte
		s2 := strconv.AppendFloat(tmp[:0], math.Abs(v), 'e', 1, bitSize)
		d2, e2 := splitE(s2)
		if len(d2) == 2 {
			if back, err := strconv.ParseFloat(string(s2), bitSize); err == nil && back == math.Abs(v) {
				if closer(math.Abs(v), s2, s, d2[1]) {
					return append(buf[:0], d2...), e2
				}
			}
		}
	}
	return digits, exp
}

// closer reports whether decimal a is strictly closer to x than decimal b,
// or equally close with an even last digit (lastA).
func closer(x float64, a, b []byte, lastA byte) bool {
	rx := new(big.Rat).SetFloat64(x)
	ra, ok1 := new(big.Rat).SetString(string(a))
	rb, ok2 := new(big.Rat).SetString(string(b))
	if !ok1 || !ok2 {
		return false
	}
	da := new(big.Rat).Abs(new(big.Rat).Sub(ra, rx))
	db := new(big.Rat).Abs(new(big.Rat).Sub(rb, rx))
	switch da.Cmp(db) {
	case -1:
		return true
	case 0:
		return (lastA-'0')%2 == 0
	}
	return false
}

// splitE splits strconv's "d.ddde±x" into trimmed digits and exponent.
func splitE(s []byte) ([]byte, int) {
	i := 0
	for i < len(s) && s[i] != 'e' {
		i++
	}
	mant := s[:i]
	exp, _ := strconv.Atoi(string(s[i+1:]))
	digits := mant[:0:0]
	digits = append(digits, mant[0])
	if len(mant) > 2 {
		digits = append(digits, mant[2:]...)
	}
	for len(digits) > 1 && digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
	}
	return digits, exp
}

// appendJavaLayout lays out digits × 10^(exp-len+1) the way Double.toString
// does (the choice depends on the decimal exponent only).
func appendJavaLayout(dst, digits []byte, exp int) []byte {
	n := len(digits)
	if exp >= -3 && exp < 7 {
		point := exp + 1 // digits before the decimal point
		switch {
		case point <= 0:
			dst = append(dst, '0', '.')
			for range -point {
				dst = append(dst, '0')
			}
			return append(dst, digits...)
		case point >= n:
			dst = append(dst, digits...)
			for range point - n {
				dst = append(dst, '0')
			}
			return append(dst, '.', '0')
		default:
			dst = append(dst, digits[:point]...)
			dst = append(dst, '.')
			return append(dst, digits[point:]...)
		}
	}
	dst = append(dst, digits[0], '.')
	if n > 1 {
		dst = append(dst, digits[1:]...)
	} else {
		dst = append(dst, '0')
	}
	dst = append(dst, 'E')
	return strconv.AppendInt(dst, int64(exp), 10)
}

// bigDec is a java.math.BigDecimal: value = (neg ? -1 : 1) × coef × 10^-scale.
// coef holds decimal digits without leading zeros ("0" for zero).
type bigDec struct {
	neg   bool
	coef  []byte
	scale int64
}

func (d bigDec) isZero() bool { return len(d.coef) == 1 && d.coef[0] == '0' }

// stripTrailingZeros is BigDecimal.stripTrailingZeros (zero becomes 0, scale 0).
func (d bigDec) stripTrailingZeros() bigDec {
	if d.isZero() {
		return bigDec{coef: []byte{'0'}}
	}
	n := len(d.coef)
	for n > 1 && d.coef[n-1] == '0' {
		n--
	}
	d.scale -= int64(len(d.coef) - n)
	d.coef = d.coef[:n]
	return d
}

// appendJava is BigDecimal.toString(): plain when the scale is non-negative
// and the adjusted exponent is at least -6, otherwise scientific with an
// explicit exponent sign.
func (d bigDec) appendJava(dst []byte) []byte {
	if d.neg && !d.isZero() {
		dst = append(dst, '-')
	}
	n := int64(len(d.coef))
	adjusted := -d.scale + (n - 1)
	if d.scale >= 0 && adjusted >= -6 {
		switch {
		case d.scale == 0:
			return append(dst, d.coef...)
		case n > d.scale:
			dst = append(dst, d.coef[:n-d.scale]...)
			dst = append(dst, '.')
			return append(dst, d.coef[n-d.scale:]...)
		default:
			dst = append(dst, '0', '.')
			for range d.scale - n {
				dst = append(dst, '0')
			}
			return append(dst, d.coef...)
		}
	}
	dst = append(dst, d.coef[0])
	if n > 1 {
		dst = append(dst, '.')
		dst = append(dst, d.coef[1:]...)
	}
	if adjusted != 0 {
		dst = append(dst, 'E')
		if adjusted > 0 {
			dst = append(dst, '+')
		}
		dst = strconv.AppendInt(dst, adjusted, 10)
	}
	return dst
}

// bigDecFromUnscaled builds a BigDecimal from an unscaled big integer.
func bigDecFromUnscaled(u *big.Int, scale int64) bigDec {
	d := bigDec{neg: u.Sign() < 0, scale: scale}
	d.coef = new(big.Int).Abs(u).Append(nil, 10)
	return d
}

// parseJavaDecimal parses the text of Double.toString or BigDecimal.toString
// into a bigDec (as new BigDecimal(String) would). ok is false on syntax
// errors or a scale outside Java's int range.
func parseJavaDecimal(s []byte) (bigDec, bool) {
	var d bigDec
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		d.neg = s[i] == '-'
		i++
	}
	var coef []byte
	frac := int64(0)
	seenPoint, seenDigit := false, false
	for ; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			seenDigit = true
			if seenPoint {
				frac++
			}
			if len(coef) == 0 && c == '0' {
				continue
			}
			coef = append(coef, c)
			continue
		}
		if c == '.' && !seenPoint {
			seenPoint = true
			continue
		}
		break
	}
	if !seenDigit {
		return d, false
	}
	exp := int64(0)
	if i < len(s) {
		if s[i] != 'e' && s[i] != 'E' {
			return d, false
		}
		e, err := strconv.ParseInt(string(s[i+1:]), 10, 64)
		if err != nil || e > math.MaxInt32 || e < math.MinInt32 {
			return d, false
		}
		exp = e
	}
	if len(coef) == 0 {
		coef = []byte{'0'}
	}
	d.coef = coef
	d.scale = frac - exp
	if d.scale > math.MaxInt32 || d.scale < math.MinInt32 {
		return d, false
	}
	return d, true
}

// maxFlatDigits bounds the integer digits a flattened number may expand to:
// Java would print 10^n in full, but no such record fits in Kinesis (1 MiB).
const maxFlatDigits = 1 << 20

// appendFlatNumber writes a number the way json-flattener prints it: the
// flattener turns every number node into a BigDecimal (decimalValue(); a
// double goes through Double.toString) and then narrows it to Integer, Long
// or BigInteger when the scale is not positive, to Double when the double
// prints back to the same value, else keeps the BigDecimal; the result is
// printed with its own toString().
func appendFlatNumber(dst []byte, d bigDec) ([]byte, error) {
	if d.scale <= 0 {
		if d.isZero() {
			return append(dst, '0'), nil
		}
		if int64(len(d.coef))-d.scale > maxFlatDigits {
			return dst, errTooLong
		}
		if d.neg {
			dst = append(dst, '-')
		}
		dst = append(dst, d.coef...)
		for range -d.scale {
			dst = append(dst, '0')
		}
		return dst, nil
	}
	var tmp [64]byte
	text := d.appendJava(tmp[:0])
	f, err := strconv.ParseFloat(string(text), 64)
	if err != nil || math.IsInf(f, 0) {
		// Java would throw here (BigDecimal.valueOf(Infinity)); print the
		// exact value instead of failing the record.
		return d.appendJava(dst), nil
	}
	asDouble := appendJavaDouble(tmp[:0], f, 64)
	back, ok := parseJavaDecimal(asDouble)
	if ok && numericEqual(back, d) {
		return append(dst, asDouble...), nil
	}
	return d.appendJava(dst), nil
}

func numericEqual(a, b bigDec) bool {
	a, b = a.stripTrailingZeros(), b.stripTrailingZeros()
	if a.isZero() || b.isZero() {
		return a.isZero() && b.isZero()
	}
	return a.neg == b.neg && a.scale == b.scale && string(a.coef) == string(b.coef)
}

// flatDouble is the BigDecimal json-flattener derives from a double node.
// FloatNode.decimalValue() widens the float to double before
// BigDecimal.valueOf, so floats are passed here as float64 and print with
// double digits when flattened (0.1f becomes 0.10000000149011612).
func flatDouble(v float64) bigDec {
	var tmp [40]byte
	s := appendJavaDouble(tmp[:0], v, 64)
	d, _ := parseJavaDecimal(s)
	return d
}
