/*
 * bench/genlog.c - write realistic application log text to stdout.
 *
 *   genlog BYTES [FIXED_LEN [SEED]]
 *
 * Lines look like a service log: an increasing ISO timestamp, a level, a
 * thread, a dotted component, a message from a few dozen templates with
 * words, numbers, ids, durations, addresses and paths.  Line lengths vary
 * from 60 to 300 bytes (newline included), so the text compresses roughly
 * like a real log (zstd -3: ~4-8x).  Deterministic for a given SEED.
 *
 * With FIXED_LEN > 0 every line is exactly FIXED_LEN bytes (newline
 * included; cut or padded with words).  Output stops at exactly BYTES bytes
 * when BYTES is a multiple of FIXED_LEN; otherwise after the first line that
 * reaches BYTES.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rs = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	/* xorshift64* */
	rs ^= rs >> 12;
	rs ^= rs << 25;
	rs ^= rs >> 27;
	return rs * 2685821657736338717ull;
}

static unsigned below(unsigned n)
{
	return (unsigned)((rnd() >> 32) % n);
}

static const char *const words[] = {
	"request", "response", "client", "server", "session", "token", "cache", "miss", "hit",
	"partition", "leader", "follower", "replica", "append", "commit", "flush", "compaction",
	"snapshot", "segment", "offset", "batch", "queue", "worker", "thread", "pool", "timeout",
	"retry", "backoff", "connection", "socket", "handshake", "closed", "opened", "accepted",
	"rejected", "user", "account", "order", "payment", "invoice", "shipment", "inventory",
	"item", "price", "currency", "region", "zone", "cluster", "node", "shard", "index",
	"query", "table", "row", "column", "schema", "migration", "version", "config", "reload",
	"health", "check", "probe", "metrics", "export", "scrape", "latency", "throughput",
	"bytes", "records", "messages", "events", "stream", "topic", "consumer", "producer",
	"lag", "watermark", "checkpoint", "restore", "recovery", "startup", "shutdown",
	"signal", "received", "sent", "dropped", "queued", "processed", "failed", "succeeded",
	"completed", "started", "pending", "scheduled", "cancelled", "expired", "renewed",
	"lease", "lock", "acquired", "released", "contended", "slow", "fast", "large", "small",
	"empty", "full", "invalid", "valid", "missing", "found", "unknown", "duplicate",
	"the", "a", "for", "with", "from", "to", "in", "on", "after", "before", "while", "and",
	"not", "is", "was", "will", "be", "has", "been", "of", "at", "by", "per", "due",
	"disk", "memory", "cpu", "network", "file", "directory", "path", "buffer", "page",
	"block", "checksum", "mismatch", "corrupt", "verified", "written", "read", "synced",
	"authentication", "authorization", "permission", "denied", "granted", "policy", "rule",
	"http", "grpc", "tls", "certificate", "rotation", "upstream", "downstream", "gateway",
	"endpoint", "route", "handler", "middleware", "filter", "header", "body", "payload",
};
#define NWORDS (sizeof(words) / sizeof(words[0]))

static const char *const components[] = {
	"api.http", "api.grpc", "auth.session", "auth.token", "billing.invoice", "billing.payment",
	"storage.wal", "storage.compactor", "storage.cache", "replication.leader",
	"replication.follower", "scheduler", "scheduler.timer", "ingest.kafka", "ingest.batch",
	"query.planner", "query.executor", "metrics.exporter", "health", "config.watcher",
	"net.pool", "net.tls", "orders.service", "inventory.sync", "shipping.router",
	"search.indexer", "notify.email", "notify.push", "gc", "admin",
};
#define NCOMP (sizeof(components) / sizeof(components[0]))

static const char *const contexts[] = {
	"env=prod", "region=eu-west-1", "dc=fra1", "host=app-07.prod.internal", "host=app-12.prod.internal",
	"pod=orders-7f9c4d-xk2lp", "pod=billing-5d8b9-q7wz2", "version=2.14.3", "build=9f1c2ab",
	"service=orders", "service=billing", "service=gateway", "tenant=acme", "tenant=globex",
	"retry=0", "attempt=1", "shard=7", "cache=hit", "cache=miss", "tls=true", "proto=h2",
	"user_agent=\"okhttp/4.12.0\"", "user_agent=\"Mozilla/5.0 (X11; Linux x86_64)\"",
	"span=server", "sampled=false", "sampled=true", "mode=async", "queue=default", "priority=normal",
	"db=orders_primary", "pool=hikari-main", "k8s_ns=shop", "thread_pool=io-bound",
};
#define NCTX (sizeof(contexts) / sizeof(contexts[0]))

static const char *const methods[] = { "GET", "GET", "GET", "POST", "POST", "PUT", "DELETE", "PATCH" };
static const char *const paths[] = {
	"/api/v1/orders", "/api/v1/orders/{id}", "/api/v1/users", "/api/v1/users/{id}/sessions",
	"/api/v2/search", "/api/v2/inventory/items", "/healthz", "/metrics", "/api/v1/payments",
	"/api/v1/invoices/{id}/pdf", "/static/app.js", "/login", "/logout",
};
static const int statuses[] = { 200, 200, 200, 200, 200, 201, 204, 301, 304, 400, 401, 403, 404, 409, 429, 500, 502, 503 };

struct out {
	char *p;
};

static void put_s(struct out *o, const char *s)
{
	size_t n = strlen(s);
	memcpy(o->p, s, n);
	o->p += n;
}

static void put_u(struct out *o, uint64_t v)
{
	char t[24];
	int n = 0;
	do {
		t[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*o->p++ = t[--n];
}

static void put_u0(struct out *o, uint64_t v, int width)
{
	char t[24];
	for (int i = width - 1; i >= 0; i--) {
		t[i] = (char)('0' + v % 10);
		v /= 10;
	}
	memcpy(o->p, t, (size_t)width);
	o->p += width;
}

static void put_hex(struct out *o, int n)
{
	static const char hx[] = "0123456789abcdef";
	uint64_t v = rnd();
	for (int i = 0; i < n; i++) {
		if (i == 16)
			v = rnd();
		*o->p++ = hx[(v >> ((i % 16) * 4)) & 15];
	}
}

static void put_word(struct out *o)
{
	/* Zipf-ish: small indexes far more often. */
	unsigned a = below(NWORDS), b = below(NWORDS), c = below(NWORDS);
	a = a < b ? a : b;
	put_s(o, words[a < c ? a : c]);
}

static void put_words(struct out *o, int n)
{
	for (int i = 0; i < n; i++) {
		if (i)
			*o->p++ = ' ';
		put_word(o);
	}
}

/* Wall clock of the fake log: starts 2024-06-11 08:00:00, advances 0-2 ms a line. */
static uint64_t clock_us = 8ull * 3600 * 1000000;

static void put_ts(struct out *o)
{
	uint64_t s = clock_us / 1000000, us = clock_us % 1000000;
	put_s(o, "2024-06-11T");
	put_u0(o, (s / 3600) % 24, 2);
	*o->p++ = ':';
	put_u0(o, (s / 60) % 60, 2);
	*o->p++ = ':';
	put_u0(o, s % 60, 2);
	*o->p++ = '.';
	put_u0(o, us, 6);
	*o->p++ = 'Z';
	clock_us += below(2000);
}

static void put_ip(struct out *o)
{
	put_s(o, "10.");
	put_u(o, below(4));
	*o->p++ = '.';
	put_u(o, below(32));
	*o->p++ = '.';
	put_u(o, below(255));
}

static void message(struct out *o)
{
	switch (below(12)) {
	case 0:
	case 1:
	case 2:
		put_s(o, methods[below(sizeof(methods) / sizeof(methods[0]))]);
		*o->p++ = ' ';
		put_s(o, paths[below(sizeof(paths) / sizeof(paths[0]))]);
		put_s(o, " status=");
		put_u(o, (uint64_t)statuses[below(sizeof(statuses) / sizeof(statuses[0]))]);
		put_s(o, " took=");
		put_u(o, below(50) < 45 ? below(120) : below(9000));
		put_s(o, "ms bytes=");
		put_u(o, below(64000));
		put_s(o, " client=");
		put_ip(o);
		put_s(o, " req=");
		put_hex(o, 16);
		break;
	case 3:
		put_s(o, "user ");
		put_u(o, 100000 + below(900000));
		*o->p++ = ' ';
		put_words(o, 2 + (int)below(5));
		put_s(o, " session=");
		put_hex(o, 12);
		break;
	case 4:
		put_s(o, "flushed ");
		put_u(o, below(5000));
		put_s(o, " records (");
		put_u(o, below(1 << 24));
		put_s(o, " bytes) to segment ");
		put_u0(o, below(100000), 8);
		put_s(o, " in ");
		put_u(o, below(900));
		put_s(o, "ms");
		break;
	case 5:
		put_s(o, "connection to ");
		put_ip(o);
		*o->p++ = ':';
		put_u(o, 8000 + below(100));
		*o->p++ = ' ';
		put_words(o, 1 + (int)below(4));
		put_s(o, " after ");
		put_u(o, below(30));
		put_s(o, " retries");
		break;
	case 6:
		put_s(o, "order ");
		put_u(o, 1000000 + below(9000000));
		put_s(o, " state=");
		put_word(o);
		put_s(o, " amount=");
		put_u(o, below(100000));
		*o->p++ = '.';
		put_u0(o, below(100), 2);
		put_s(o, " currency=EUR items=");
		put_u(o, 1 + below(20));
		break;
	case 7:
		put_s(o, "gc pause ");
		put_u(o, below(300));
		put_s(o, "ms heap=");
		put_u(o, 200 + below(3800));
		put_s(o, "MiB young=");
		put_u(o, below(800));
		put_s(o, "MiB old=");
		put_u(o, below(3000));
		put_s(o, "MiB");
		break;
	case 8:
		put_s(o, "partition ");
		put_u(o, below(64));
		put_s(o, " lag=");
		put_u(o, below(100000));
		put_s(o, " watermark=");
		put_u(o, 1718000000000ull + below(100000000));
		*o->p++ = ' ';
		put_words(o, 2 + (int)below(4));
		break;
	case 9:
		put_s(o, "exception in handler: java.io.IOException: ");
		put_words(o, 3 + (int)below(6));
		put_s(o, " at com.example.");
		put_word(o);
		*o->p++ = '.';
		put_word(o);
		put_s(o, "(Service.java:");
		put_u(o, 10 + below(2000));
		*o->p++ = ')';
		break;
	default:
		put_words(o, 3 + (int)below(10));
		if (below(2)) {
			put_s(o, " id=");
			put_u(o, below(1000000));
		}
		break;
	}
}

static const char *level(void)
{
	unsigned r = below(100);
	return r < 70 ? "INFO " : r < 85 ? "DEBUG" : r < 95 ? "WARN " : "ERROR";
}

/* One line into buf (no newline yet); returns its length. */
static size_t line(char *buf, size_t target)
{
	struct out o = { buf };
	unsigned comp;

	put_ts(&o);
	*o.p++ = ' ';
	put_s(&o, level());
	put_s(&o, " [");
	put_s(&o, "worker-");
	put_u(&o, below(16));
	put_s(&o, "] ");
	comp = below(NCOMP);
	put_s(&o, components[comp]);
	put_s(&o, ": ");
	message(&o);
	/*
	 * Pad up to the wanted length with the context a service stamps on
	 * every line (fixed per component and host), then a few words.
	 */
	if ((size_t)(o.p - buf) + 1 < target) {
		unsigned h = below(4);
		*o.p++ = ' ';
		put_s(&o, "host=app-");
		put_u0(&o, comp * 4 + h, 2);
		put_s(&o, ".prod.internal");
		for (unsigned k = 0; k < 6; k++) {
			*o.p++ = ' ';
			put_s(&o, contexts[(comp * 7 + k * 5 + h) % NCTX]);
		}
		if (below(8) == 0) {
			put_s(&o, " trace_id=");
			put_hex(&o, 16);
		}
	}
	while ((size_t)(o.p - buf) + 1 < target) {
		*o.p++ = ' ';
		put_word(&o);
	}
	return (size_t)(o.p - buf);
}

static size_t target_len(void)
{
	/* 60-300 bytes with newline, most between 90 and 180. */
	unsigned r = below(100);
	if (r < 15)
		return 60 + below(30);
	if (r < 85)
		return 90 + below(90);
	return 180 + below(121);
}

int main(int argc, char **argv)
{
	unsigned long long total, fixed = 0, done = 0;
	static char obuf[1 << 20];
	size_t ofill = 0;
	char lb[2048];

	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: genlog BYTES [FIXED_LEN [SEED]]\n");
		return 2;
	}
	total = strtoull(argv[1], NULL, 10);
	if (argc > 2)
		fixed = strtoull(argv[2], NULL, 10);
	if (argc > 3)
		rs ^= strtoull(argv[3], NULL, 10) * 0x2545F4914F6CDD1Dull;
	if (fixed == 1 || fixed > 1000) {
		fprintf(stderr, "genlog: FIXED_LEN must be 0 or 2..1000\n");
		return 2;
	}
	for (int i = 0; i < 10; i++)
		rnd();
	while (done < total) {
		size_t want = fixed ? fixed : target_len();
		size_t n = line(lb, want);
		if (n > want - 1)
			n = want - 1;
		lb[n++] = '\n';
		if (ofill + n > sizeof(obuf)) {
			if (fwrite(obuf, 1, ofill, stdout) != ofill) {
				perror("genlog: write");
				return 1;
			}
			ofill = 0;
		}
		memcpy(obuf + ofill, lb, n);
		ofill += n;
		done += n;
	}
	if (fwrite(obuf, 1, ofill, stdout) != ofill || fflush(stdout) != 0) {
		perror("genlog: write");
		return 1;
	}
	return 0;
}
