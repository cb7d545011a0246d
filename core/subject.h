/*
 * core/subject.h - the short name of a certificate, for messages and the
 * audit log.
 */
#ifndef TF_SUBJECT_H
#define TF_SUBJECT_H

/*
 * The name to show for a certificate: the value of the last CN of its
 * one-line subject ("C=US, O=IdenTrust, CN=IdenTrust Commercial Root CA 1"
 * gives "IdenTrust Commercial Root CA 1"), or the whole subject when it has
 * none. The result is in a buffer of the calling thread, valid until the
 * next call.
 */
const char *tf_subject_short(const char *subject);

#endif
