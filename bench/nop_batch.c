/*
 * nop_batch.c: the C baseline for BenchmarkSubmitBatch. Same ring setup as
 * ringline's NewRing (SQE128, CQE32, CQSIZE 4x, SINGLE_ISSUER, COOP_TASKRUN,
 * DEFER_TASKRUN, 256 entries); for each batch size it preps `batch` NOPs,
 * calls io_uring_submit_and_wait(batch) and reaps, and prints ns per NOP.
 *
 * Build and run: gcc -O2 bench/nop_batch.c -o /tmp/nop_batch -l:liburing.a && /tmp/nop_batch
 */
#include <liburing.h>
#include <stdio.h>
#include <time.h>

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static double run(struct io_uring *ring, unsigned batch, unsigned total)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen;
	double start = now_ns();

	for (unsigned done = 0; done < total; done += batch) {
		for (unsigned i = 0; i < batch; i++)
			io_uring_prep_nop(io_uring_get_sqe(ring));
		for (unsigned got = 0; got < batch; got += seen) {
			io_uring_submit_and_wait(ring, batch - got);
			seen = 0;
			io_uring_for_each_cqe(ring, head, cqe)
				seen++;
			io_uring_cq_advance(ring, seen);
		}
	}
	return (now_ns() - start) / total;
}

int main(void)
{
	struct io_uring ring;
	struct io_uring_params p = {
		.flags = IORING_SETUP_SQE128 | IORING_SETUP_CQE32 | IORING_SETUP_CQSIZE |
			 IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN |
			 IORING_SETUP_DEFER_TASKRUN,
		.cq_entries = 1024,
	};
	int ret = io_uring_queue_init_params(256, &ring, &p);
	if (ret < 0) {
		fprintf(stderr, "io_uring_queue_init_params: %d\n", ret);
		return 1;
	}
	unsigned batches[] = { 1, 8, 32, 256 };
	for (int i = 0; i < 4; i++)
		printf("batch %3u: %6.1f ns/op\n", batches[i], run(&ring, batches[i], 1u << 23));
	io_uring_queue_exit(&ring);
	return 0;
}
