// SPDX-License-Identifier: GPL-2.0-only
/* dm-xrepl userspace: JSON output shared by the tools. */
#include <stdio.h>

#include "lib/json.h"

void json_str(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	putchar('"');
	for (; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}
