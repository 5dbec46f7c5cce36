// Package errtext keeps error messages to the project's rule: one line, and
// bounded where they quote something the sink did not write (a service
// message, a user's value).
package errtext

import "strings"

// OneLine folds a message onto one line: every run of white space,
// newlines included, becomes one space. Library messages (yaml, protojson,
// the AWS SDK) often span lines.
func OneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// Truncate keeps at most n bytes of s, never splitting a UTF-8 sequence,
// and marks a cut with "...".
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && s[cut]&0xC0 == 0x80 { // a continuation byte
		cut--
	}
	return s[:cut] + "..."
}
