/*
 * tests/unit/test_renew_due.c - when a certificate is due for renewal: a
 * number of days before it expires, or a fraction of its lifetime, whichever
 * comes first.
 */
#include "helpers.h"

#include "renew/renew.h"

static const time_t T = TEST_NOW;

static void
test_days_before_expiry(void **state)
{
	(void)state;
	assert_int_equal(renew_due_at(T, T + 365 * DAY, 30, 0), T + 335 * DAY);
	assert_int_equal(renew_due_at(T, T + 365 * DAY, 1, 0), T + 364 * DAY);
	/* zero days: due when it expires */
	assert_int_equal(renew_due_at(T, T + 365 * DAY, 0, 0), T + 365 * DAY);
}

static void
test_fraction_when_earlier(void **state)
{
	(void)state;
	/* 100 days: half-way is day 50, 30 days before the end is day 70 */
	assert_int_equal(renew_due_at(T, T + 100 * DAY, 30, 0.5), T + 50 * DAY);
	assert_int_equal(renew_due_at(T, T + 100 * DAY, 30, 0.25), T + 25 * DAY);
	/* a 90-day certificate renewed at two thirds, as ACME clients do */
	assert_true(renew_due_at(T, T + 90 * DAY, 0, 2.0 / 3.0) >= T + 60 * DAY - 1);
	assert_true(renew_due_at(T, T + 90 * DAY, 0, 2.0 / 3.0) <= T + 60 * DAY);
}

static void
test_days_when_earlier(void **state)
{
	(void)state;
	/* 90% of 100 days is day 90; 30 days before the end is day 70 */
	assert_int_equal(renew_due_at(T, T + 100 * DAY, 30, 0.9), T + 70 * DAY);
	/* the whole lifetime never comes before the days */
	assert_int_equal(renew_due_at(T, T + 100 * DAY, 30, 1.0), T + 70 * DAY);
	assert_int_equal(renew_due_at(T, T + 100 * DAY, 0, 1.0), T + 100 * DAY);
}

static void
test_fraction_zero_is_unset(void **state)
{
	(void)state;
	assert_int_equal(renew_due_at(T, T + 100 * DAY, 30, 0), T + 70 * DAY);
	assert_int_equal(renew_due_at(T, T + 100 * DAY, 30, -0.5), T + 70 * DAY);
}

static void
test_odd_validity(void **state)
{
	(void)state;
	/* not_after before not_before: the fraction means nothing, days still do */
	assert_int_equal(renew_due_at(T, T - 10 * DAY, 30, 0.5), T - 40 * DAY);
	assert_int_equal(renew_due_at(T, T, 30, 0.5), T - 30 * DAY);
	/* more days than the lifetime: due before it is even valid */
	assert_int_equal(renew_due_at(T, T + 10 * DAY, 30, 0), T - 20 * DAY);
	/* before 1970 and after 2038 */
	assert_int_equal(renew_due_at(-100 * DAY, 0, 10, 0.5), -50 * DAY);
	assert_int_equal(renew_due_at((time_t)2840140800, (time_t)2840140800 + 200 * DAY, 3650, 0),
	    (time_t)2840140800 + 200 * DAY - 3650 * (time_t)DAY);
	assert_int_equal(renew_due_at((time_t)2840140800, (time_t)2840140800 + 200 * DAY, 30, 0.5),
	    (time_t)2840140800 + 100 * DAY);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_days_before_expiry),
		cmocka_unit_test(test_fraction_when_earlier),
		cmocka_unit_test(test_days_when_earlier),
		cmocka_unit_test(test_fraction_zero_is_unset),
		cmocka_unit_test(test_odd_validity),
	};

	return cmocka_run_group_tests_name("renew/due", tests, NULL, NULL);
}
