/* floor: what the kernel alone costs per answer: a server that does no DNS work.
 *
 *     cc -O2 -o floor bench/floor.c && ./floor PORT        (UDP on 127.0.0.1:PORT)
 *
 * bench/run.py measures it beside the DNS servers, under the same dnsperf load, so that
 * "CPU us/answer" has a floor: what a server spends above it is its own work. It is
 * fastdns's UDP path (UdpReader.serve in fastdns/_udp.pyx) minus the DNS: block in
 * recvmmsg until a datagram comes, take up to 32 that are there, and answer the batch
 * with one sendmmsg, each answer being the query itself with the QR bit set. UDP only.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#define VLEN 32                 /* datagrams per recvmmsg/sendmmsg, as fastdns's */
#define SLOT 65536              /* room per datagram, as fastdns's */

static unsigned char buf[VLEN][SLOT];
static struct sockaddr_in peer[VLEN];
static struct iovec iov_in[VLEN], iov_out[VLEN];
static struct mmsghdr in[VLEN], out[VLEN];

int main(int argc, char **argv)
{
    struct sockaddr_in addr = {.sin_family = AF_INET};
    int fd, i, n, nout, sent, r;

    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    addr.sin_port = htons(atoi(argv[1]));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        perror("floor");
        return 1;
    }
    for (i = 0; i < VLEN; i++) {
        iov_in[i] = (struct iovec){buf[i], SLOT};
        in[i].msg_hdr = (struct msghdr){.msg_name = &peer[i], .msg_iov = &iov_in[i],
                                        .msg_iovlen = 1};
        out[i].msg_hdr = (struct msghdr){.msg_iov = &iov_out[i], .msg_iovlen = 1};
    }
    for (;;) {
        for (i = 0; i < VLEN; i++)
            in[i].msg_hdr.msg_namelen = sizeof peer[i];
        n = recvmmsg(fd, in, VLEN, MSG_WAITFORONE, NULL);
        if (n < 0 && errno != EINTR) {
            perror("floor: recvmmsg");
            return 1;
        }
        nout = 0;
        for (i = 0; i < n; i++) {
            /* no DNS header, or a response: dropped, as fastdns drops them */
            if (in[i].msg_len < 12 || buf[i][2] & 0x80)
                continue;
            buf[i][2] |= 0x80;
            iov_out[nout] = (struct iovec){buf[i], in[i].msg_len};
            out[nout].msg_hdr.msg_name = &peer[i];
            out[nout].msg_hdr.msg_namelen = in[i].msg_hdr.msg_namelen;
            nout++;
        }
        for (sent = 0; sent < nout; sent += r) {
            r = sendmmsg(fd, out + sent, nout - sent, MSG_DONTWAIT);
            if (r < 0 && errno == EINTR)
                r = 0;
            else if (r <= 0)
                break;          /* a full send buffer: the rest is lost, as in fastdns */
        }
    }
}
