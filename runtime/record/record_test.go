package record

import (
	"errors"
	"io"
	"testing"

	"github.com/apache/pulsar-client-go/pulsar"
)

// Two messages of one batch differ only in their batch index, which the Go
// client's String() leaves out; MessageIDText keeps it.
func TestMessageIDText(t *testing.T) {
	a := Data{MessageID: pulsar.NewMessageID(172, 0, 0, 1)}
	b := Data{MessageID: pulsar.NewMessageID(172, 0, 1, 1)}
	if a.MessageID.String() != b.MessageID.String() {
		t.Log("the Go client now prints the batch index; MessageIDText is still exact")
	}
	if a.MessageIDText() != "172:0:1:0" || b.MessageIDText() != "172:0:1:1" {
		t.Errorf("got %q and %q", a.MessageIDText(), b.MessageIDText())
	}
	if (&Data{}).MessageIDText() != "" {
		t.Error("no id must give \"\"")
	}
}

// Errors about two messages of one batch name each message, and wrap.
func TestErrorfNamesTheMessage(t *testing.T) {
	a := Data{Topic: "persistent://public/default/t", MessageID: pulsar.NewMessageID(172, 0, 0, 1)}
	b := Data{Topic: "persistent://public/default/t", MessageID: pulsar.NewMessageID(172, 0, 1, 1)}
	ea, eb := a.Errorf("encode: %w", io.ErrUnexpectedEOF), b.Errorf("encode: %w", io.ErrUnexpectedEOF)
	if ea.Error() != "record persistent://public/default/t 172:0:1:0: encode: unexpected EOF" {
		t.Errorf("got %q", ea)
	}
	if ea.Error() == eb.Error() {
		t.Errorf("two messages of one batch give one text: %q", ea)
	}
	if !errors.Is(eb, io.ErrUnexpectedEOF) {
		t.Errorf("%q does not wrap its cause", eb)
	}
}
