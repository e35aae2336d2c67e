/*
 * hk_kafka_mock.c — a Kafka cluster for the tests: librdkafka's mock
 * cluster (a real Kafka-protocol broker in this process) with 3 brokers.
 *
 *   hk_kafka_mock [--brokers N] [--topic NAME[:PARTITIONS]]...
 *
 * Prints the bootstrap address ("127.0.0.1:PORT,...") on one line of
 * stdout, then reads commands on stdin, one per line, answering "ok" or
 * "error: why" on stdout:
 *
 *   down ID|all   a broker (1..N) or every broker stops answering
 *   up ID|all     ... answers again
 *   quit          exit (so does end of input)
 *
 * Topics named with --topic are created with PARTITIONS (default 4)
 * partitions and replication factor min(3, N); others are created on
 * first use by the mock cluster's defaults.
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int set_state(rd_kafka_mock_cluster_t *mc, int n, const char *what,
                     bool up)
{
    int first = 1, last = n;
    if (strcmp(what, "all") != 0) {
        char *end;
        long id = strtol(what, &end, 10);
        if (*end || id < 1 || id > n) return -1;
        first = last = (int)id;
    }
    for (int b = first; b <= last; b++) {
        rd_kafka_resp_err_t e = up ? rd_kafka_mock_broker_set_up(mc, b)
                                   : rd_kafka_mock_broker_set_down(mc, b);
        if (e) return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int n = 3;
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
    rd_kafka_t *rk =
        rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "hk_kafka_mock: %s\n", errstr);
        return 1;
    }
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--brokers") == 0 && i + 1 < argc) {
            n = atoi(argv[++i]);
            if (n < 1 || n > 16) {
                fprintf(stderr, "hk_kafka_mock: --brokers 1..16\n");
                return 2;
            }
        }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, n);
    if (!mc) {
        fprintf(stderr, "hk_kafka_mock: cannot start the mock cluster\n");
        rd_kafka_destroy(rk);
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--brokers") == 0) {
            i++;
            continue;
        }
        if (strcmp(argv[i], "--topic") != 0 || i + 1 >= argc) {
            fprintf(stderr, "usage: hk_kafka_mock [--brokers N] "
                            "[--topic NAME[:PARTITIONS]]...\n");
            return 2;
        }
        char name[256];
        snprintf(name, sizeof name, "%s", argv[++i]);
        int parts = 4;
        char *colon = strchr(name, ':');
        if (colon) {
            *colon = '\0';
            parts = atoi(colon + 1);
        }
        if (parts < 1 ||
            rd_kafka_mock_topic_create(mc, name, parts, n < 3 ? n : 3)) {
            fprintf(stderr, "hk_kafka_mock: cannot create topic %s\n", name);
            return 1;
        }
    }
    printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);
    char line[256];
    while (fgets(line, sizeof line, stdin)) {
        char cmd[32], arg[32];
        int k = sscanf(line, "%31s %31s", cmd, arg);
        if (k >= 1 && strcmp(cmd, "quit") == 0) break;
        if (k == 2 && (strcmp(cmd, "down") == 0 || strcmp(cmd, "up") == 0)) {
            if (set_state(mc, n, arg, strcmp(cmd, "up") == 0) == 0)
                printf("ok\n");
            else
                printf("error: no broker %s\n", arg);
        } else if (k >= 1) {
            printf("error: unknown command %s\n", cmd);
        }
        fflush(stdout);
    }
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}
