# Sorts the samples of `perf script -F comm,tid,ip,sym,dso` (with call chains) of the
# tsunagid data-plane threads into the stages of the tunnel, and prints each stage's
# share of those samples, per thread name (both daemons together):
#   awk -f perf-stages.awk [-v mb=MB -v ms=MS] < script.txt
# With mb (megabytes through the tunnel during the recording) and ms (the CPU time of
# the threads, in ms) it also prints each stage's CPU ms per MB. Kernel samples are
# sorted by the system call they run in (the softirq work a send or a TUN write does
# on behalf of the receiver shows as its own stage); user samples by their symbol.
function stage(chain, top, dso,    s) {
	if (chain ~ / (__x64_sys_read|ksys_read) /) s = "tun read"
	else if (chain ~ / __sys_sendmmsg /)
		s = chain ~ / (net_rx_action|process_backlog) / ? "udp send: receive side (softirq)" : "udp send"
	else if (chain ~ / __x64_sys_sendmsg /) s = "udp send"
	else if (chain ~ / (__x64_sys_recvmmsg|do_recvmmsg) /) s = "udp receive"
	else if (chain ~ / (do_writev|ksys_write|__x64_sys_write) /)
		s = chain ~ / (netif_receive_skb|process_backlog|net_rx_action) / ? "tun write: delivery (forwarding, TCP)" : "tun write"
	else if (chain ~ / (__x64_sys_poll|do_sys_poll|__x64_sys_ppoll) /) s = "poll"
	else if (dso ~ /kernel/) s = "kernel, other (irq, softirq, scheduler)"
	else if (top ~ /strcmp|OSSL_PARAM|EVP_CIPHER_CTX_ctrl|get_iv_length|set_padding|OSSL_/) s = "crypto: OpenSSL per-call overhead"
	else if (dso ~ /libcrypto|libsodium|libgcrypt/) s = "crypto"
	else if (top ~ /csum|sum_avx2/) s = "checksums (GSO split, GRO check)"
	else if (top ~ /memmove|memcpy/) s = "copies in user space"
	else if (top ~ /pthread|mutex|rwlock/) s = "locks"
	else s = "user, other"
	return s
}
function flush() {
	if (comm != "" && comm ~ /^esp-/) {
		n[comm SUBSEP stage(chain, top, dso)]++
		total[comm]++
		all++
	}
	comm = ""; chain = " "; top = ""; dso = ""
}
/^[^ \t]/ { flush(); comm = $1; next }
/^[ \t]+[0-9a-f]+ / {
	sym = $2
	if (top == "") { top = sym; dso = $NF }
	chain = chain sym " "
	next
}
/^$/ { flush() }
END {
	flush()
	for (k in n) {
		split(k, p, SUBSEP)
		line = sprintf("%-13s %-42s %5.1f%%", p[1], p[2], 100 * n[k] / all)
		if (mb > 0 && ms > 0)
			line = line sprintf("  %6.3f ms/MB", ms * n[k] / all / mb)
		print line
	}
}
