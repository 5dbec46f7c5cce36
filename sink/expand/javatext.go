package expand

import "unicode/utf8"

// appendJavaUTF8 appends b decoded the way Java's new String(b, UTF_8) does
// it (Avro's Utf8.toString and Pulsar's STRING and JSON readers all do), then
// re-encoded as UTF-8: each malformed sequence becomes one U+FFFD. Java's
// rule is the Unicode "maximal subpart" one except that an encoded surrogate
// (ED A0..BF xx) is one malformed sequence of three bytes, and a truncated
// sequence at the very end is always a single U+FFFD.
func appendJavaUTF8(dst, b []byte) []byte {
	if utf8.Valid(b) {
		return append(dst, b...)
	}
	const repl = "\uFFFD"
	cont := func(c byte) bool { return c&0xC0 == 0x80 }
	n := len(b)
	for i := 0; i < n; {
		b1 := b[i]
		switch {
		case b1 < 0x80:
			dst = append(dst, b1)
			i++
		case b1 >= 0xC2 && b1 <= 0xDF:
			if i+1 < n && cont(b[i+1]) {
				dst = append(dst, b[i:i+2]...)
				i += 2
			} else {
				dst = append(dst, repl...)
				i++
			}
		case b1 >= 0xE0 && b1 <= 0xEF:
			bad2 := func(b2 byte) bool { return (b1 == 0xE0 && b2&0xE0 == 0x80) || !cont(b2) }
			if i+2 < n {
				b2, b3 := b[i+1], b[i+2]
				if bad2(b2) || !cont(b3) {
					dst = append(dst, repl...)
					if bad2(b2) {
						i++
					} else {
						i += 2
					}
					continue
				}
				if b1 == 0xED && b2 >= 0xA0 {
					dst = append(dst, repl...) // a surrogate code unit
				} else {
					dst = append(dst, b[i:i+3]...)
				}
				i += 3
				continue
			}
			if i+1 < n && bad2(b[i+1]) {
				dst = append(dst, repl...)
				i++
				continue
			}
			dst = append(dst, repl...)
			return dst // truncated at the end: one replacement for the rest
		case b1 >= 0xF0 && b1 <= 0xF7:
			bad2 := func(b2 byte) bool {
				return b1 > 0xF4 || (b1 == 0xF0 && (b2 < 0x90 || b2 > 0xBF)) ||
					(b1 == 0xF4 && b2&0xF0 != 0x80) || !cont(b2)
			}
			if i+3 < n {
				b2, b3, b4 := b[i+1], b[i+2], b[i+3]
				if !cont(b2) || !cont(b3) || !cont(b4) || bad2(b2) {
					dst = append(dst, repl...)
					switch {
					case bad2(b2):
						i++
					case !cont(b3):
						i += 2
					default:
						i += 3
					}
					continue
				}
				dst = append(dst, b[i:i+4]...)
				i += 4
				continue
			}
			if b1 > 0xF4 || (i+1 < n && bad2(b[i+1])) {
				dst = append(dst, repl...)
				i++
				continue
			}
			dst = append(dst, repl...)
			if i+2 < n && !cont(b[i+2]) {
				i += 2
				continue
			}
			return dst
		default: // 80..C1, F8..FF
			dst = append(dst, repl...)
			i++
		}
	}
	return dst
}

// javaString decodes b as Java would (see appendJavaUTF8).
func javaString(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return string(appendJavaUTF8(nil, b))
}

const hexUpper = "0123456789ABCDEF"

// appendJacksonString appends s as a quoted JSON string the way Jackson's
// generator escapes it: quote, backslash and the C0 controls (\b \t \n \f \r
// short, others \u00XX); everything else, '/' and non-ASCII included, raw.
func appendJacksonString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"':
			dst = append(dst, '\\', '"')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\r':
			dst = append(dst, '\\', 'r')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexUpper[c>>4], hexUpper[c&0xF])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendFlattenerText appends s escaped with json-flattener's default policy
// (StringEscapePolicy.DEFAULT): quote, backslash and \b \n \t \f \r only.
// Other control characters stay raw, as the Java sink emits them.
func appendFlattenerText(dst []byte, s []byte) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		var esc byte
		switch s[i] {
		case '"':
			esc = '"'
		case '\\':
			esc = '\\'
		case '\b':
			esc = 'b'
		case '\n':
			esc = 'n'
		case '\t':
			esc = 't'
		case '\f':
			esc = 'f'
		case '\r':
			esc = 'r'
		default:
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = append(dst, '\\', esc)
		start = i + 1
	}
	return append(dst, s[start:]...)
}
