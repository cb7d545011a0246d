/*
 * core/subject.c - the short name of a certificate.
 */
#include <string.h>

#include "subject.h"

const char *
tf_subject_short(const char *subject)
{
	static _Thread_local char buf[256];
	const char *cn = NULL, *p = subject;
	size_t n;

	/* the last "CN=" that starts a component of the one-line form */
	for (; (p = strstr(p, "CN=")) != NULL; p += 3)
		if (p == subject ||
		    (p >= subject + 2 && p[-1] == ' ' && (p[-2] == ',' || p[-2] == '+')))
			cn = p + 3;
	if (cn == NULL || *cn == '\0')
		return subject;
	n = strcspn(cn, ",+");
	while (n > 0 && cn[n - 1] == ' ')
		n--;
	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	memcpy(buf, cn, n);
	buf[n] = '\0';
	return buf;
}
