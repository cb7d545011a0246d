/*
 * cli/drift.h - what the stores hold that the audit log's head does not
 * record: the files edited, added or removed behind trustfix's back.
 */
#ifndef TF_DRIFT_H
#define TF_DRIFT_H

#include <stdbool.h>
#include <stddef.h>

#include "change.h"

struct audit;
struct statcache;

/*
 * Append to 'drift' the files of the stores in 'scope' that differ from
 * what commit 'head' records (NULL: nothing is recorded yet), as they are
 * now (TS_OP_REMOVE for those gone), sorted by path, each once. *nrecorded
 * gets the number of files of the scope that 'head' records (0: the stores
 * were never recorded). It costs a stat per file: a file is read only when
 * its stat is not the one 'sc' holds, and the recorded ids come from 'sc'
 * when it is at 'head' (else from a walk of the log's tree); 'sc' learns
 * what was seen. Returns 0 or TF_E* with the message set.
 */
int change_drift(struct cli *cli, struct audit *a, struct statcache *sc, char *const *scope,
    size_t nscope, const char *head, struct change *drift, size_t *nrecorded);

#endif
