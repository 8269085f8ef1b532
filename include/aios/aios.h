/*
 * libaios umbrella header: include this one to get the whole public API.
 *
 *   core.h       initialisation, versions, status codes, buffers, secrets
 *   key.h        key handles, keyrings, providers, the data-key cache
 *   envelope.h   envelope encryption: messages, streams, sessions, JSON fields
 *
 * Later modules (key, envelope, manifest, policy, telemetry, audit) add
 * their headers here as they land.  Headers under aios/experimental/ are
 * not part of the ABI promise and are never included from here.
 */
#ifndef AIOS_AIOS_H
#define AIOS_AIOS_H

#include "aios/export.h"
#include "aios/version.h"
#include "aios/core.h"
#include "aios/key.h"
#include "aios/envelope.h"
#include "aios/manifest.h"

#endif /* AIOS_AIOS_H */
