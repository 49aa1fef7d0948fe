/* backend.c — which backend owns memory of a device. One case per backend this build has; a tensor's
 * `device` field picks the table for calls that get no context (ug_item, parameter blocks). */
#include "backend/backend.h"

const ug_backend *ug_backend_get(int device) {
    switch (device) {
    case UG_CPU: return &ug_cpu_backend;
    default: return NULL;
    }
}
