// SPDX-License-Identifier: GPL-2.0-only
/*
 * xreplctl: what the monitor owes the service manager that runs it.
 *
 * - The readiness and watchdog protocol of sd_notify(3), spoken on the
 *   datagram socket $NOTIFY_SOCKET names, without libsystemd: READY=1
 *   once the devices are watched, WATCHDOG=1 every half $WATCHDOG_USEC
 *   while the monitor is alive (the caller's check says so), STOPPING=1
 *   when the named devices it watched are all gone (watching every
 *   device, it ends by a signal).  Without $NOTIFY_SOCKET nothing is sent.
 * - Its memory locked (mlockall): the monitor must never wait for a page
 *   to be read back from a disk, least of all from a device it guards
 *   (a root file system on an xrepl device).  What is mapped now is read
 *   in and locked; what is mapped later (thread stacks, the heap) is
 *   locked as it is touched, so idle thread stacks cost nothing.
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "xreplctl.h"

#ifndef MCL_ONFAULT
#define MCL_ONFAULT	4
#endif

/* Send state ("READY=1", ...) to the service manager, if one listens. */
void service_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len;
	int fd;

	if (!path || (path[0] != '/' && path[0] != '@'))
		return;
	len = strlen(path);
	if (len >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, len);
	/* "@name": a socket in the abstract namespace. */
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
		   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0)
		msg("monitor: cannot notify the service manager: %s", strerror(errno));
	close(fd);
}

/*
 * The watchdog interval the service manager asks for, in microseconds;
 * 0 if it asks for none (or asks another process).
 */
static unsigned long long watchdog_usec(void)
{
	const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	unsigned long long v;
	char *end;

	if (!usec || !getenv("NOTIFY_SOCKET"))
		return 0;
	if (pid && strtoull(pid, NULL, 10) != (unsigned long long)getpid())
		return 0;
	errno = 0;
	v = strtoull(usec, &end, 10);
	if (errno || *end || !v)
		return 0;
	return v;
}

static bool (*alive)(unsigned int budget_ms);

static void *watchdog(void *arg)
{
	unsigned long long half = *(unsigned long long *)arg / 2;
	struct timespec ts = { (time_t)(half / 1000000), (long)(half % 1000000) * 1000 };
	unsigned int budget_ms = (unsigned int)(half / 1000);
	bool said = false;

	free(arg);
	for (;;) {
		while (nanosleep(&ts, &ts) && errno == EINTR)
			;
		ts.tv_sec = (time_t)(half / 1000000);
		ts.tv_nsec = (long)(half % 1000000) * 1000;
		/* A monitor that is stuck is not pinged: the manager restarts it. */
		if (alive(budget_ms)) {
			service_notify("WATCHDOG=1");
			said = false;
		} else if (!said) {
			msg("monitor: stuck: the watchdog is no longer pinged");
			said = true;
		}
	}
	return NULL;
}

/*
 * Ping the service manager's watchdog while is_alive(budget_ms) says the
 * monitor works (it may take that long to say so); nothing if no
 * watchdog is asked for.  0, or -1 if the thread cannot be started.
 */
int service_watchdog_start(bool (*is_alive)(unsigned int budget_ms))
{
	unsigned long long usec = watchdog_usec(), *arg;
	pthread_attr_t attr;
	pthread_t t;
	int r;

	if (!usec)
		return 0;
	arg = malloc(sizeof(*arg));
	if (!arg)
		return -1;
	*arg = usec;
	alive = is_alive;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	r = pthread_create(&t, &attr, watchdog, arg);
	pthread_attr_destroy(&attr);
	if (r) {
		free(arg);
		return -1;
	}
	return 0;
}

/*
 * Lock the process's memory: what is mapped now, read in; what is mapped
 * later, as it is touched.  A failure (no CAP_IPC_LOCK, RLIMIT_MEMLOCK)
 * is reported and the monitor goes on unlocked.
 */
void service_lock_memory(void)
{
	if (mlockall(MCL_CURRENT) || mlockall(MCL_FUTURE | MCL_ONFAULT))
		msg("monitor: cannot lock its memory (%s): it may wait for page-ins",
		    strerror(errno));
}
