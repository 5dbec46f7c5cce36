package testenv

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
)

// produce sends n unbatched messages (so that each is one backlog entry) and waits for every acknowledgement.
func produce(t *testing.T, c pulsar.Client, topic string, n int) {
	t.Helper()
	prod, err := c.CreateProducer(pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
	if err != nil {
		t.Fatalf("producer for %s: %v", topic, err)
	}
	defer prod.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range n {
		if _, err := prod.Send(ctx, &pulsar.ProducerMessage{Payload: fmt.Appendf(nil, "m-%d", i)}); err != nil {
			t.Fatalf("send %d to %s: %v", i, topic, err)
		}
	}
}

func TestPulsarPartitionedBacklog(t *testing.T) {
	p := Pulsar(t)
	topic := p.UniqueTopic(t, "backlog")
	p.CreatePartitionedTopic(t, topic, 3)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if n, err := p.Partitions(ctx, topic); err != nil || n != 3 {
		t.Fatalf("Partitions(%s) = %d, %v; want 3", topic, n, err)
	}

	c := p.Client(t)
	// Two messages before the subscription exists: an earliest-positioned subscription still counts them.
	produce(t, c, topic, 2)
	p.CreateSubscription(t, topic, "sub")
	produce(t, c, topic, 10)

	if got := p.Backlog(t, topic, "sub"); got != 12 {
		t.Fatalf("Backlog = %d; want 12", got)
	}
	if _, err := p.BacklogOf(ctx, topic, "no-such-sub"); !errors.Is(err, ErrNoSubscription) {
		t.Fatalf("BacklogOf(no-such-sub) error = %v; want ErrNoSubscription", err)
	}

	// The sum really spans partitions: the round-robin producer spread the 12 over all 3.
	for i := range 3 {
		part := fmt.Sprintf("%s-partition-%d", topic, i)
		if n, err := p.BacklogOf(ctx, part, "sub"); err != nil || n == 0 || n == 12 {
			t.Fatalf("backlog of %s = %d, %v; want a share of the 12", part, n, err)
		}
	}

	// Acknowledging 5 messages lowers the sum by 5.
	cons, err := c.Subscribe(pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "sub", Type: pulsar.Shared})
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	defer cons.Close()
	for range 5 {
		m, err := cons.Receive(ctx)
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		if err := cons.Ack(m); err != nil {
			t.Fatalf("ack: %v", err)
		}
	}
	var last int64
	p.WaitFor(t, 30*time.Second, func() bool {
		last = p.Backlog(t, topic, "sub")
		return last == 7
	}, "backlog of %s to reach 7 after 5 acks", topic)
}

func TestPulsarTopicBacklogAndAdmin(t *testing.T) {
	p := Pulsar(t)
	topic := p.UniqueTopic(t, "plain")
	p.CreateTopic(t, topic)
	p.CreateSubscription(t, topic, "s1")
	produce(t, p.Client(t), topic, 3)
	if got := p.Backlog(t, topic, "s1"); got != 3 {
		t.Fatalf("Backlog = %d; want 3", got)
	}

	out, err := p.Admin(t, "topics", "list", "public/default")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, topic) {
		t.Fatalf("pulsar-admin topics list does not show %s:\n%s", topic, out)
	}
	out, err = p.Admin(t, "topics", "stats", p.UniqueTopic(t, "missing"))
	if err == nil {
		t.Fatalf("pulsar-admin topics stats of a missing topic succeeded:\n%s", out)
	}
	if !strings.Contains(strings.ToLower(out), "not found") {
		t.Fatalf("pulsar-admin topics stats of a missing topic: %v, output does not say not found:\n%s", err, out)
	}
}

func TestPulsarCreateTopicCleanup(t *testing.T) {
	p := Pulsar(t)
	topic := p.UniqueTopic(t, "cleanup")
	t.Run("create", func(t *testing.T) {
		p.CreatePartitionedTopic(t, topic, 2)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tp, err := topicPath(topic)
	if err != nil {
		t.Fatal(err)
	}
	code, body, err := p.AdminREST(ctx, http.MethodGet, "/admin/v2/"+tp+"/partitions", nil)
	if err != nil || code != http.StatusNotFound {
		t.Fatalf("after cleanup GET partitions of %s: HTTP %d, %v: %s; want 404 (deleted)", topic, code, err, body)
	}
}

func TestPulsarFunctionsWorkerAnswers(t *testing.T) {
	p := Pulsar(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code, body, err := p.AdminREST(ctx, http.MethodGet, "/admin/v3/functions/public/default", nil)
	if err != nil || code != http.StatusOK || !strings.HasPrefix(strings.TrimSpace(string(body)), "[") {
		t.Fatalf("functions worker: HTTP %d, %v: %s", code, err, body)
	}
}
