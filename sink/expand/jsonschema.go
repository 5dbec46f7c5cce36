package expand

import (
	"fmt"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/pulsar-kinesis/kinesis-sink/runtime/record"
)

// JSON schema values. Pulsar's GenericJsonReader decodes the payload as a
// UTF-8 Java string (malformed bytes become U+FFFD) and reads it into a
// Jackson tree with its shared ObjectMapper plus USE_BIG_DECIMAL_FOR_FLOATS;
// the sink writes that tree back. Observed with Pulsar 4.0.8's client:
//
//   - strict JSON only (no comments, NaN, single quotes, leading zeros,
//     leading '+', trailing commas, unescaped control characters, BOM);
//   - only the first root value is read: anything after an object, array,
//     string or literal is ignored, but a root number must be followed by
//     whitespace or the end;
//   - an empty payload is a MissingNode, written as null;
//   - integers keep their digits (Int, Long or BigInteger nodes);
//   - fractions and exponents become BigDecimal with trailing zeros
//     stripped (zero is 0), written by BigDecimal.toString(): 1.10 -> 1.1,
//     100.0 -> 1E+2, 1e-7 -> 1E-7;
//   - a duplicate key replaces the earlier value in the earlier position;
//   - a lone surrogate escape (\ud800) reaches the output as '?', because the
//     sink encodes its output string with String.getBytes(UTF_8);
//   - Jackson's limits: nesting deeper than 1000 and numbers longer than
//     1000 digits are errors.
type jsonCodec struct{}

func (jsonCodec) emit(e *emitter, _ *Encoder, _ *record.Data, b []byte) error {
	text := b
	if !utf8.Valid(b) {
		text = appendJavaUTF8(nil, b)
	}
	p := jsonParser{s: text}
	v, err := p.root()
	if err != nil {
		return err
	}
	emitJSON(e, v)
	return nil
}

type jsonKind uint8

const (
	jsonMissing jsonKind = iota
	jsonNull
	jsonTrue
	jsonFalse
	jsonInt // text holds the canonical digits
	jsonDec
	jsonString
	jsonObject
	jsonArray
)

type jsonValue struct {
	kind jsonKind
	text string
	dec  bigDec
	keys []string
	vals []*jsonValue
}

func emitJSON(e *emitter, v *jsonValue) {
	switch v.kind {
	case jsonMissing, jsonNull:
		e.null()
	case jsonTrue:
		e.boolean(true)
	case jsonFalse:
		e.boolean(false)
	case jsonInt:
		e.bigInt([]byte(v.text))
	case jsonDec:
		e.decimal(v.dec)
	case jsonString:
		e.text(v.text)
	case jsonObject:
		e.beginObject()
		for i, k := range v.keys {
			if e.err != nil {
				return
			}
			e.name(k)
			emitJSON(e, v.vals[i])
		}
		e.endObject()
	case jsonArray:
		e.beginArray()
		for _, x := range v.vals {
			if e.err != nil {
				return
			}
			e.elem()
			emitJSON(e, x)
		}
		e.endArray()
	}
}

const maxJSONNumberLen = 1000

type jsonParser struct {
	s     []byte
	pos   int
	depth int
	str   []byte
}

func (p *jsonParser) errorf(format string, args ...any) error {
	return fmt.Errorf("invalid JSON at offset %d: %s", p.pos, fmt.Sprintf(format, args...))
}

func (p *jsonParser) ws() {
	for p.pos < len(p.s) {
		switch p.s[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *jsonParser) root() (*jsonValue, error) {
	p.ws()
	if p.pos == len(p.s) {
		return &jsonValue{kind: jsonMissing}, nil
	}
	c := p.s[p.pos]
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	if c == '-' || (c >= '0' && c <= '9') {
		if p.pos < len(p.s) {
			switch p.s[p.pos] {
			case ' ', '\t', '\n', '\r':
			default:
				return nil, p.errorf("unexpected %s after a root-level number, expected whitespace", quoteByte(p.s[p.pos]))
			}
		}
	}
	return v, nil
}

func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return fmt.Sprintf("'%c'", c)
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

func (p *jsonParser) value() (*jsonValue, error) {
	if p.pos >= len(p.s) {
		return nil, p.errorf("unexpected end of input, expected a value")
	}
	switch c := p.s[p.pos]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		s, err := p.string()
		if err != nil {
			return nil, err
		}
		return &jsonValue{kind: jsonString, text: s}, nil
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == 't':
		return p.literal("true", jsonTrue)
	case c == 'f':
		return p.literal("false", jsonFalse)
	case c == 'n':
		return p.literal("null", jsonNull)
	default:
		return nil, p.errorf("unexpected %s, expected a value", quoteByte(c))
	}
}

func (p *jsonParser) literal(word string, k jsonKind) (*jsonValue, error) {
	end := p.pos + len(word)
	if end > len(p.s) || string(p.s[p.pos:end]) != word {
		return nil, p.errorf("unrecognized token, expected %q", word)
	}
	// Jackson rejects a literal run into a Java identifier character
	// ("truex"), checking only characters from '0' up, except ']' and '}'.
	if end < len(p.s) && p.s[end] >= '0' && p.s[end] != ']' && p.s[end] != '}' {
		r, _ := utf8.DecodeRune(p.s[end:])
		if isJavaIdentifierPart(r) {
			return nil, p.errorf("unrecognized token starting %q", word)
		}
	}
	p.pos = end
	return &jsonValue{kind: k}, nil
}

// isJavaIdentifierPart is Character.isJavaIdentifierPart(char): letters,
// digits, letter numbers, connecting punctuation, currency symbols,
// combining marks and the identifier-ignorable controls and format
// characters. A supplementary character is seen by Jackson as its high
// surrogate, which is not an identifier part.
func isJavaIdentifierPart(r rune) bool {
	if r >= 0x10000 {
		return false
	}
	if (r >= 0 && r <= 8) || (r >= 0x0E && r <= 0x1B) || (r >= 0x7F && r <= 0x9F) {
		return true
	}
	return unicode.In(r, unicode.L, unicode.Nd, unicode.Nl, unicode.Pc, unicode.Sc, unicode.Mn, unicode.Mc, unicode.Cf)
}

func (p *jsonParser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return p.errorf("nesting deeper than %d levels", maxDepth)
	}
	return nil
}

func (p *jsonParser) object() (*jsonValue, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	p.pos++ // {
	v := &jsonValue{kind: jsonObject}
	var index map[string]int
	p.ws()
	if p.pos < len(p.s) && p.s[p.pos] == '}' {
		p.pos++
		p.depth--
		return v, nil
	}
	for {
		p.ws()
		if p.pos >= len(p.s) {
			return nil, p.errorf("unexpected end of input in an object")
		}
		if p.s[p.pos] != '"' {
			return nil, p.errorf("unexpected %s, expected a double-quoted field name", quoteByte(p.s[p.pos]))
		}
		k, err := p.string()
		if err != nil {
			return nil, err
		}
		p.ws()
		if p.pos >= len(p.s) || p.s[p.pos] != ':' {
			return nil, p.errorf("expected ':' after a field name")
		}
		p.pos++
		p.ws()
		x, err := p.value()
		if err != nil {
			return nil, err
		}
		// Duplicate keys keep the first position and the last value.
		if i, dup := p.find(v, &index, k); dup {
			v.vals[i] = x
		} else {
			v.keys = append(v.keys, k)
			v.vals = append(v.vals, x)
		}
		p.ws()
		if p.pos >= len(p.s) {
			return nil, p.errorf("unexpected end of input in an object")
		}
		switch p.s[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			p.depth--
			return v, nil
		default:
			return nil, p.errorf("unexpected %s, expected ',' or '}'", quoteByte(p.s[p.pos]))
		}
	}
}

func (p *jsonParser) find(v *jsonValue, index *map[string]int, k string) (int, bool) {
	if len(v.keys) < 16 {
		for i, x := range v.keys {
			if x == k {
				return i, true
			}
		}
		return 0, false
	}
	if *index == nil {
		*index = make(map[string]int, len(v.keys)*2)
		for i, x := range v.keys {
			(*index)[x] = i
		}
	}
	i, ok := (*index)[k]
	if !ok {
		(*index)[k] = len(v.keys)
	}
	return i, ok
}

func (p *jsonParser) array() (*jsonValue, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	p.pos++ // [
	v := &jsonValue{kind: jsonArray}
	p.ws()
	if p.pos < len(p.s) && p.s[p.pos] == ']' {
		p.pos++
		p.depth--
		return v, nil
	}
	for {
		p.ws()
		x, err := p.value()
		if err != nil {
			return nil, err
		}
		v.vals = append(v.vals, x)
		p.ws()
		if p.pos >= len(p.s) {
			return nil, p.errorf("unexpected end of input in an array")
		}
		switch p.s[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			p.depth--
			return v, nil
		default:
			return nil, p.errorf("unexpected %s, expected ',' or ']'", quoteByte(p.s[p.pos]))
		}
	}
}

func (p *jsonParser) number() (*jsonValue, error) {
	start := p.pos
	s := p.s
	neg := false
	if s[p.pos] == '-' {
		neg = true
		p.pos++
	}
	intStart := p.pos
	for p.pos < len(s) && s[p.pos] >= '0' && s[p.pos] <= '9' {
		p.pos++
	}
	intDigits := p.pos - intStart
	if intDigits == 0 {
		return nil, p.errorf("no digit after the minus sign")
	}
	if intDigits > 1 && s[intStart] == '0' {
		return nil, p.errorf("leading zeroes are not allowed")
	}
	fracDigits, expDigits := 0, 0
	isFP := false
	if p.pos < len(s) && s[p.pos] == '.' {
		isFP = true
		p.pos++
		fs := p.pos
		for p.pos < len(s) && s[p.pos] >= '0' && s[p.pos] <= '9' {
			p.pos++
		}
		fracDigits = p.pos - fs
		if fracDigits == 0 {
			return nil, p.errorf("decimal point not followed by a digit")
		}
	}
	if p.pos < len(s) && (s[p.pos] == 'e' || s[p.pos] == 'E') {
		isFP = true
		p.pos++
		if p.pos < len(s) && (s[p.pos] == '+' || s[p.pos] == '-') {
			p.pos++
		}
		es := p.pos
		for p.pos < len(s) && s[p.pos] >= '0' && s[p.pos] <= '9' {
			p.pos++
		}
		expDigits = p.pos - es
		if expDigits == 0 {
			return nil, p.errorf("exponent indicator not followed by a digit")
		}
	}
	if intDigits+fracDigits+expDigits > maxJSONNumberLen {
		return nil, p.errorf("number longer than %d digits", maxJSONNumberLen)
	}
	text := s[start:p.pos]
	if !isFP {
		digits := text[intStart-start:]
		if len(digits) == 1 && digits[0] == '0' {
			neg = false // -0 is the integer 0
		}
		out := string(digits)
		if neg {
			out = "-" + out
		}
		return &jsonValue{kind: jsonInt, text: out}, nil
	}
	d, ok := parseJavaDecimal(text)
	if !ok {
		return nil, p.errorf("malformed numeric value %q", text)
	}
	// Copy the digits out of the input buffer before stripping.
	d.coef = append([]byte(nil), d.coef...)
	return &jsonValue{kind: jsonDec, dec: d.stripTrailingZeros()}, nil
}

func (p *jsonParser) string() (string, error) {
	p.pos++ // opening quote
	p.str = p.str[:0]
	s := p.s
	for {
		start := p.pos
		for p.pos < len(s) {
			c := s[p.pos]
			if c == '"' || c == '\\' || c < 0x20 {
				break
			}
			p.pos++
		}
		p.str = append(p.str, s[start:p.pos]...)
		if p.pos >= len(s) {
			return "", p.errorf("unexpected end of input in a string")
		}
		c := s[p.pos]
		switch {
		case c == '"':
			p.pos++
			return string(p.str), nil
		case c < 0x20:
			return "", p.errorf("unescaped control character 0x%02x in a string", c)
		}
		// Backslash escape.
		p.pos++
		if p.pos >= len(s) {
			return "", p.errorf("unexpected end of input in an escape")
		}
		esc := s[p.pos]
		p.pos++
		switch esc {
		case '"', '\\', '/':
			p.str = append(p.str, esc)
		case 'b':
			p.str = append(p.str, '\b')
		case 'f':
			p.str = append(p.str, '\f')
		case 'n':
			p.str = append(p.str, '\n')
		case 'r':
			p.str = append(p.str, '\r')
		case 't':
			p.str = append(p.str, '\t')
		case 'u':
			u, err := p.hex4()
			if err != nil {
				return "", err
			}
			switch {
			case utf16.IsSurrogate(rune(u)) && u < 0xDC00:
				// A high surrogate pairs with an immediately following low one.
				if p.pos+1 < len(s) && s[p.pos] == '\\' && s[p.pos+1] == 'u' {
					save := p.pos
					p.pos += 2
					lo, err := p.hex4()
					if err != nil {
						return "", err
					}
					if lo >= 0xDC00 && lo <= 0xDFFF {
						p.str = utf8.AppendRune(p.str, utf16.DecodeRune(rune(u), rune(lo)))
						continue
					}
					p.pos = save
				}
				p.str = append(p.str, '?')
			case utf16.IsSurrogate(rune(u)):
				p.str = append(p.str, '?')
			default:
				p.str = utf8.AppendRune(p.str, rune(u))
			}
		default:
			return "", p.errorf("unrecognized character escape %s", quoteByte(esc))
		}
	}
}

func (p *jsonParser) hex4() (uint16, error) {
	if p.pos+4 > len(p.s) {
		return 0, p.errorf("unexpected end of input in a \\u escape")
	}
	var u uint16
	for i := range 4 {
		c := p.s[p.pos+i]
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		default:
			return 0, p.errorf("invalid hex digit %s in a \\u escape", quoteByte(c))
		}
		u = u<<4 | uint16(v)
	}
	p.pos += 4
	return u, nil
}
