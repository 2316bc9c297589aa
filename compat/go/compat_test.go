// Package compat drives a running RocketMQ-compatible cluster through the official Go client
// (github.com/apache/rocketmq-client-go/v2). Run by run.sh, which starts `ferromq dev` and passes
// COMPAT_NAMESRV and COMPAT_BROKER (the broker's address, where the tests create their topics).
package compat

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/admin"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"
	"github.com/google/uuid"
)

func TestMain(m *testing.M) {
	rlog.SetLogLevel("warn")
	os.Exit(m.Run())
}

func env(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("set %s (run.sh does)", name)
	}
	return v
}

func namesrv(t *testing.T) []string { return []string{env(t, "COMPAT_NAMESRV")} }

func unique(prefix string) string { return prefix + "_" + uuid.NewString()[:8] }

// createTopic creates a topic with `queues` read and write queues on the broker.
func createTopic(t *testing.T, topic string, queues int) {
	t.Helper()
	a, err := admin.NewAdmin(admin.WithResolver(primitive.NewPassthroughResolver(namesrv(t))))
	if err != nil {
		t.Fatalf("admin: %v", err)
	}
	defer a.Close()
	err = a.CreateTopic(context.Background(), admin.WithTopicCreate(topic),
		admin.WithBrokerAddrCreate(env(t, "COMPAT_BROKER")), admin.WithReadQueueNums(queues),
		admin.WithWriteQueueNums(queues))
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	// the broker registers the new topic with the name server right after answering; clients that
	// look the route up before that fall back to the default topic's route
	eventually(t, "the name server routes "+topic, 10*time.Second, func() bool {
		mqs, err := a.FetchPublishMessageQueues(context.Background(), topic)
		return err == nil && len(mqs) == queues
	})
}

func startProducer(t *testing.T, opts ...producer.Option) rocketmq.Producer {
	t.Helper()
	all := append([]producer.Option{producer.WithNsResolver(primitive.NewPassthroughResolver(namesrv(t))),
		producer.WithGroupName(unique("go_pg")), producer.WithInstanceName(unique("go_p")), producer.WithRetry(2)},
		opts...)
	p, err := rocketmq.NewProducer(all...)
	if err != nil {
		t.Fatalf("producer: %v", err)
	}
	if err := p.Start(); err != nil {
		t.Fatalf("producer start: %v", err)
	}
	t.Cleanup(func() { _ = p.Shutdown() })
	return p
}

// received collects message bodies with how often each arrived.
type received struct {
	mu     sync.Mutex
	counts map[string]int
	at     map[string]time.Time // when each body first arrived
	order  []*primitive.MessageExt
}

func newReceived() *received { return &received{counts: map[string]int{}, at: map[string]time.Time{}} }

func (r *received) add(msgs ...*primitive.MessageExt) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range msgs {
		if r.counts[string(m.Body)] == 0 {
			r.at[string(m.Body)] = time.Now()
		}
		r.counts[string(m.Body)]++
		r.order = append(r.order, m)
	}
}

func (r *received) snapshot() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.counts))
	for k, v := range r.counts {
		out[k] = v
	}
	return out
}

func startPushConsumer(t *testing.T, topic, expression string, orderly bool, r *received) {
	t.Helper()
	startConsumer(t, topic, expression, r, consumer.WithGroupName(unique("go_cg")), consumer.WithConsumerOrder(orderly))
}

func startConsumer(t *testing.T, topic, expression string, r *received, opts ...consumer.Option) {
	t.Helper()
	all := append([]consumer.Option{
		consumer.WithNsResolver(primitive.NewPassthroughResolver(namesrv(t))),
		consumer.WithInstance(unique("go_c")),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	}, opts...)
	c, err := rocketmq.NewPushConsumer(all...)
	if err != nil {
		t.Fatalf("consumer: %v", err)
	}
	err = c.Subscribe(topic, consumer.MessageSelector{Type: consumer.TAG, Expression: expression},
		func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
			r.add(msgs...)
			return consumer.ConsumeSuccess, nil
		})
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	if err := c.Start(); err != nil {
		t.Fatalf("consumer start: %v", err)
	}
	t.Cleanup(func() { _ = c.Shutdown() })
}

// eventually polls cond every 100 ms until it holds or the timeout passes.
func eventually(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// expectExactly waits until every expected body arrived, then checks none arrived twice or
// unexpected.
func expectExactly(t *testing.T, r *received, expected []string, timeout time.Duration) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d messages", len(expected)), timeout, func() bool {
		got := r.snapshot()
		for _, b := range expected {
			if got[b] == 0 {
				return false
			}
		}
		return true
	})
	want := map[string]bool{}
	for _, b := range expected {
		want[b] = true
	}
	for body, n := range r.snapshot() {
		if !want[body] {
			t.Errorf("unexpected message %q", body)
		} else if n != 1 {
			t.Errorf("message %q arrived %d times", body, n)
		}
	}
}

func sendOK(t *testing.T, res *primitive.SendResult, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	if res.Status != primitive.SendOK {
		t.Fatalf("send status %v", res)
	}
}

func TestSyncAsyncOnewayAndBatchSendsAllArriveOnce(t *testing.T) {
	t.Parallel()
	topic := unique("GoSend")
	createTopic(t, topic, 4)
	p := startProducer(t)
	ctx := context.Background()
	var expected []string
	for i := 0; i < 5; i++ {
		body := fmt.Sprintf("sync-%d", i)
		expected = append(expected, body)
		res, err := p.SendSync(ctx, primitive.NewMessage(topic, []byte(body)))
		sendOK(t, res, err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 5; i++ {
		body := fmt.Sprintf("async-%d", i)
		expected = append(expected, body)
		wg.Add(1)
		err := p.SendAsync(ctx, func(ctx context.Context, res *primitive.SendResult, err error) {
			defer wg.Done()
			if err != nil || res.Status != primitive.SendOK {
				t.Errorf("async send %s: %v %v", body, res, err)
			}
		}, primitive.NewMessage(topic, []byte(body)))
		if err != nil {
			t.Fatalf("async send: %v", err)
		}
	}
	wg.Wait()
	for i := 0; i < 5; i++ {
		body := fmt.Sprintf("oneway-%d", i)
		expected = append(expected, body)
		if err := p.SendOneWay(ctx, primitive.NewMessage(topic, []byte(body))); err != nil {
			t.Fatalf("oneway send: %v", err)
		}
	}
	var batch []*primitive.Message
	for i := 0; i < 5; i++ {
		body := fmt.Sprintf("batch-%d", i)
		expected = append(expected, body)
		batch = append(batch, primitive.NewMessage(topic, []byte(body)))
	}
	res, err := p.SendSync(ctx, batch...)
	sendOK(t, res, err)

	r := newReceived()
	startPushConsumer(t, topic, "*", false, r)
	expectExactly(t, r, expected, 60*time.Second)
}

func TestPushConsumerWithATagFilterGetsOnlyThoseTags(t *testing.T) {
	t.Parallel()
	topic := unique("GoTags")
	createTopic(t, topic, 1)
	p := startProducer(t)
	var expected []string
	tags := []string{"TagA", "TagB", "TagC"}
	for i := 0; i < 12; i++ {
		tag := tags[i%3]
		body := fmt.Sprintf("%s-%d", tag, i)
		if tag != "TagC" {
			expected = append(expected, body)
		}
		res, err := p.SendSync(context.Background(), primitive.NewMessage(topic, []byte(body)).WithTag(tag))
		sendOK(t, res, err)
	}
	r := newReceived()
	startPushConsumer(t, topic, "TagA || TagB", false, r)
	expectExactly(t, r, expected, 60*time.Second)
	for _, m := range r.order {
		if tag := m.GetTags(); tag != "TagA" && tag != "TagB" {
			t.Errorf("message %s has tag %q", m.Body, tag)
		}
	}
}

func TestOrderlyConsumerGetsEachKeyInSendOrder(t *testing.T) {
	t.Parallel()
	topic := unique("GoOrderly")
	createTopic(t, topic, 4)
	p := startProducer(t, producer.WithQueueSelector(producer.NewHashQueueSelector()))
	keys := []string{"k0", "k1", "k2", "k3", "k4"}
	var expected []string
	for seq := 0; seq < 10; seq++ {
		for _, k := range keys {
			body := k + ":" + strconv.Itoa(seq)
			expected = append(expected, body)
			msg := primitive.NewMessage(topic, []byte(body))
			msg.WithShardingKey(k)
			res, err := p.SendSync(context.Background(), msg)
			sendOK(t, res, err)
		}
	}
	r := newReceived()
	startPushConsumer(t, topic, "*", true, r)
	expectExactly(t, r, expected, 60*time.Second)
	r.mu.Lock()
	defer r.mu.Unlock()
	last := map[string]int{}
	for _, m := range r.order {
		var k string
		var seq int
		if _, err := fmt.Sscanf(string(m.Body), "%2s:%d", &k, &seq); err != nil {
			t.Fatalf("body %q: %v", m.Body, err)
		}
		if prev, ok := last[k]; ok && seq != prev+1 {
			t.Errorf("key %s: %d after %d", k, seq, prev)
		} else if !ok && seq != 0 {
			t.Errorf("key %s starts at %d", k, seq)
		}
		last[k] = seq
	}
}

// listener commits "commit-*", rolls back "rollback-*" and answers UNKNOW for "unknown-*" until
// the broker's check-back, which commits them.
type listener struct {
	mu      sync.Mutex
	checked map[string]bool
}

func (l *listener) ExecuteLocalTransaction(m *primitive.Message) primitive.LocalTransactionState {
	switch string(m.Body)[:3] {
	case "com":
		return primitive.CommitMessageState
	case "rol":
		return primitive.RollbackMessageState
	default:
		return primitive.UnkonwnState
	}
}

func (l *listener) CheckLocalTransaction(m *primitive.MessageExt) primitive.LocalTransactionState {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.checked[string(m.Body)] = true
	return primitive.CommitMessageState
}

func TestTransactionProducerCommitRollbackAndCheckBack(t *testing.T) {
	t.Parallel()
	topic := unique("GoTx")
	createTopic(t, topic, 2)
	l := &listener{checked: map[string]bool{}}
	p, err := rocketmq.NewTransactionProducer(l,
		producer.WithNsResolver(primitive.NewPassthroughResolver(namesrv(t))),
		producer.WithGroupName(unique("go_tx")), producer.WithInstanceName(unique("go_txp")))
	if err != nil {
		t.Fatalf("transaction producer: %v", err)
	}
	if err := p.Start(); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { _ = p.Shutdown() })
	var expected, unknown []string
	for i := 0; i < 3; i++ {
		for _, kind := range []string{"commit", "rollback", "unknown"} {
			body := fmt.Sprintf("%s-%d", kind, i)
			res, err := p.SendMessageInTransaction(context.Background(), primitive.NewMessage(topic, []byte(body)))
			if err != nil || res.Status != primitive.SendOK {
				t.Fatalf("transactional send %s: %v %v", body, res, err)
			}
			switch kind {
			case "commit":
				expected = append(expected, body)
			case "unknown":
				expected = append(expected, body)
				unknown = append(unknown, body)
			}
		}
	}
	r := newReceived()
	startPushConsumer(t, topic, "*", false, r)
	// the broker asks about UNKNOW transactions every transactionCheckInterval (30 s in ferromq)
	expectExactly(t, r, expected, 150*time.Second)
	l.mu.Lock()
	defer l.mu.Unlock()
	var checked []string
	for b := range l.checked {
		checked = append(checked, b)
	}
	sort.Strings(checked)
	if fmt.Sprint(checked) != fmt.Sprint(unknown) {
		t.Errorf("the broker asked about %v, want %v", checked, unknown)
	}
}

func TestDelayLevelMessagesAreNeverEarly(t *testing.T) {
	t.Parallel()
	topic := unique("GoDelay")
	createTopic(t, topic, 1)
	r := newReceived()
	startPushConsumer(t, topic, "*", false, r)
	p := startProducer(t)
	sent := map[string]time.Time{}
	var expected []string
	for i := 0; i < 3; i++ {
		body := fmt.Sprintf("delayed-%d", i)
		expected = append(expected, body)
		msg := primitive.NewMessage(topic, []byte(body))
		msg.WithDelayTimeLevel(2) // 5 s
		sent[body] = time.Now()
		res, err := p.SendSync(context.Background(), msg)
		sendOK(t, res, err)
	}
	expectExactly(t, r, expected, 60*time.Second)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.order {
		// the store time is the delivery time of a delayed message; compare on the broker's clock
		// with the born time, both in the message
		if delay := m.StoreTimestamp - m.BornTimestamp; delay < 5000-50 {
			t.Errorf("%s delivered after %d ms, level 2 is 5 s", m.Body, delay)
		}
		if got := r.at[string(m.Body)].Sub(sent[string(m.Body)]); got < 5*time.Second {
			t.Errorf("%s arrived %v after its send, level 2 is 5 s", m.Body, got)
		}
	}
}

func TestBroadcastingConsumersEachGetEveryMessage(t *testing.T) {
	t.Parallel()
	topic := unique("GoBroadcast")
	createTopic(t, topic, 2)
	group := unique("go_bc")
	first, second := newReceived(), newReceived()
	for _, r := range []*received{first, second} {
		startConsumer(t, topic, "*", r, consumer.WithGroupName(group), consumer.WithConsumerModel(consumer.BroadCasting))
	}
	p := startProducer(t)
	var expected []string
	for i := 0; i < 8; i++ {
		body := fmt.Sprintf("broadcast-%d", i)
		expected = append(expected, body)
		res, err := p.SendSync(context.Background(), primitive.NewMessage(topic, []byte(body)))
		sendOK(t, res, err)
	}
	expectExactly(t, first, expected, 60*time.Second)
	expectExactly(t, second, expected, 60*time.Second)
}
