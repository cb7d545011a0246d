/*
 * renew/due.c - when a certificate is due for renewal.
 */
#include "renew.h"

#define DAY 86400

time_t
renew_due_at(time_t not_before, time_t not_after, int before_days, double fraction)
{
	time_t at = not_after - (time_t)before_days * DAY;

	if (fraction > 0 && not_after > not_before) {
		time_t by_life = not_before + (time_t)((double)(not_after - not_before) * fraction);

		if (by_life < at)
			at = by_life;
	}
	return at;
}
