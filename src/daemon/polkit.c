/* SPDX-License-Identifier: Apache-2.0 */
#include <time.h>

#include "bus-util.h"
#include "manager.h"
#include "polkit.h"

/* A question to polkit about one method call, and, once it came, the answer. */
struct PolkitQuery {
        PolkitQuery *next;
        Manager *manager;
        sd_bus_message *request;        /* the call, dispatched again once answered */
        sd_bus_slot *slot;              /* CheckAuthorization under way */
        int answer;                     /* -1 not yet, 0 no, 1 yes */
        char *denial;                   /* why not, when polkit could not be asked */
        uint64_t answered_usec;
};

/* An answered query is taken up by the method it was for; where that is gone (the VM was deleted, the
 * caller left) it is dropped after this long. */
#define POLKIT_ANSWER_KEEP_USEC (60 * 1000000ULL)

static uint64_t now_usec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

static PolkitQuery *query_free(PolkitQuery *q)
{
        if (!q)
                return NULL;
        sd_bus_slot_unref(q->slot);
        sd_bus_message_unref(q->request);
        free(q->denial);
        free(q);
        return NULL;
}

static void query_unlink(Manager *m, PolkitQuery *q)
{
        for (PolkitQuery **p = &m->polkit_queries; *p; p = &(*p)->next)
                if (*p == q) {
                        *p = q->next;
                        return;
                }
}

static void queries_prune(Manager *m)
{
        uint64_t now = now_usec();
        PolkitQuery **p = &m->polkit_queries;

        while (*p) {
                PolkitQuery *q = *p;
                if (q->answer >= 0 && now - q->answered_usec > POLKIT_ANSWER_KEEP_USEC) {
                        *p = q->next;
                        query_free(q);
                } else
                        p = &q->next;
        }
}

void polkit_queries_free(Manager *m)
{
        while (m->polkit_queries) {
                PolkitQuery *q = m->polkit_queries;
                m->polkit_queries = q->next;
                query_free(q);
        }
}

static int on_check_authorization(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
        PolkitQuery *q = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        int authorized = 0, challenge = 0, r;

        q->slot = sd_bus_slot_unref(q->slot);
        if (e) {
                log_info("polkit could not be asked about a call of %s from %s: %s",
                         strna(sd_bus_message_get_member(q->request)), strna(sd_bus_message_get_sender(q->request)),
                         e->message ?: e->name);
                q->denial = strdup(sd_bus_error_has_names(e, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER)
                                           ? "polkit is not running to ask"
                                           : "polkit could not be asked");
        } else {
                r = sd_bus_message_enter_container(reply, 'r', "bba{ss}");
                if (r >= 0)
                        r = sd_bus_message_read(reply, "bb", &authorized, &challenge);
                if (r < 0) {
                        log_warning_errno(r, "polkit's answer to CheckAuthorization does not parse: %m");
                        authorized = 0;
                        q->denial = strdup("polkit's answer did not parse");
                }
        }
        q->answer = authorized ? 1 : 0;
        q->answered_usec = now_usec();
        /* The call again, from the top: this time its handler finds the answer. */
        r = sd_bus_enqueue_for_read(sd_bus_message_get_bus(q->request), q->request);
        if (r < 0) {
                log_error_errno(r, "Cannot dispatch a call again after polkit answered: %m");
                (void) sd_bus_reply_method_errorf(q->request, CHV_ERROR_ACCESS_DENIED, "chvd failed to go on: %s",
                                                  strerror(-r));
                query_unlink(q->manager, q);
                query_free(q);
        }
        return 0;
}

static int ask_polkit(Manager *m, sd_bus_message *msg, const char *action, const char *vm_name)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        PolkitQuery *q;
        int r;

        r = sd_bus_message_new_method_call(m->bus, &call, "org.freedesktop.PolicyKit1",
                                           "/org/freedesktop/PolicyKit1/Authority",
                                           "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization");
        if (r < 0)
                return r;
        /* subject: the caller's bus name; details: the VM, for rules that allow some VMs to some users */
        r = sd_bus_message_append(call, "(sa{sv})s", "system-bus-name", 1, "name", "s",
                                  sd_bus_message_get_sender(msg), action);
        if (r >= 0)
                r = vm_name ? sd_bus_message_append(call, "a{ss}", 1, "vm", vm_name)
                            : sd_bus_message_append(call, "a{ss}", 0);
        if (r >= 0)
                r = sd_bus_message_append(call, "us", sd_bus_message_get_allow_interactive_authorization(msg) ? 1u : 0u,
                                          "");
        if (r < 0)
                return r;

        q = calloc(1, sizeof *q);
        if (!q)
                return -ENOMEM;
        q->manager = m;
        q->answer = -1;
        q->request = sd_bus_message_ref(msg);
        /* A person may be asked for a password: no short timeout. */
        r = sd_bus_call_async(m->bus, &q->slot, call, on_check_authorization, q, UINT64_MAX);
        if (r < 0) {
                query_free(q);
                return r;
        }
        q->next = m->polkit_queries;
        m->polkit_queries = q;
        return 0;
}

static int deny(sd_bus_error *error, const char *what, const char *why)
{
        return sd_bus_error_setf(error, CHV_ERROR_ACCESS_DENIED,
                                 "%s is for root, or for whom polkit allows it%s%s: run the command as root (with "
                                 "sudo, for example), or ask for a polkit rule",
                                 what, why ? "; " : "", why ?: "");
}

int bus_verify_polkit_async(Manager *m, sd_bus_message *msg, const char *action, const char *vm_name,
                            const char *what, sd_bus_error *error)
{
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        uid_t uid;
        int r;

        for (PolkitQuery *q = m->polkit_queries; q; q = q->next) {
                if (q->request != msg)
                        continue;
                if (q->answer < 0)
                        return 0;       /* cannot happen: the call is dispatched again only once answered */
                query_unlink(m, q);
                r = q->answer ? 1 : deny(error, what, q->denial ?: "polkit said no");
                query_free(q);
                return r;
        }

        r = sd_bus_query_sender_creds(msg, SD_BUS_CREDS_EUID | SD_BUS_CREDS_AUGMENT, &creds);
        if (r < 0)
                return r;
        r = sd_bus_creds_get_euid(creds, &uid);
        if (r < 0)
                return r;
        if (uid == 0)
                return 1;

        queries_prune(m);
        r = ask_polkit(m, msg, action, vm_name);
        if (r < 0) {
                log_warning_errno(r, "Cannot ask polkit about a call of %s from %s: %m",
                                  strna(sd_bus_message_get_member(msg)), strna(sd_bus_message_get_sender(msg)));
                return deny(error, what, "polkit could not be asked");
        }
        return 0;
}
