// SPDX-License-Identifier: GPL-2.0
/*
 * The host-side peer of the multi-queue NIC tests (tests/vm/run --nic mq
 * --host-cmd): runs in the host's network namespace while the guest runs.
 *
 *   lc_peer serve PORT            request/reply server on PORT: per
 *                                 connection, reads a request and sends it
 *                                 back, until the peer closes
 *   lc_peer connect ADDR PORT N   retries until ADDR:PORT listens, then
 *                                 makes N connections, one byte each way
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void *serve_one(void *arg)
{
	int fd = (int)(long)arg;
	char buf[256];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (write(fd, buf, n) != n)
			break;
	close(fd);
	return NULL;
}

static int serve(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int one = 1, lfd, fd;
	pthread_attr_t attr;
	pthread_t t;

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 4096)) {
		perror("lc_peer serve");
		return 1;
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (;;) {
		fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("lc_peer accept");
			return 1;
		}
		if (pthread_create(&t, &attr, serve_one, (void *)(long)fd))
			serve_one((void *)(long)fd);
	}
}

static int client(const char *addr, int port, int n)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int i, fd, done = 0, tries = 0;
	char c = 'x';

	if (inet_pton(AF_INET, addr, &a.sin_addr) != 1) {
		fprintf(stderr, "lc_peer: bad address %s\n", addr);
		return 2;
	}
	for (i = 0; i < n; ) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0)
			return 1;
		if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
			close(fd);
			if (done || ++tries > 6000) {
				perror("lc_peer connect");
				return 1;
			}
			usleep(100000);	/* the guest is still starting */
			continue;
		}
		if (write(fd, &c, 1) == 1 && read(fd, &c, 1) == 1)
			done++;
		close(fd);
		i++;
	}
	printf("lc_peer: %d of %d connections answered\n", done, n);
	return done == n ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "serve"))
		return serve(atoi(argv[2]));
	if (argc == 5 && !strcmp(argv[1], "connect"))
		return client(argv[2], atoi(argv[3]), atoi(argv[4]));
	fprintf(stderr, "usage: lc_peer serve PORT | connect ADDR PORT N\n");
	return 2;
}
