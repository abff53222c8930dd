#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_nat_fw: netlink messages as the kernel sends
them to daemon/nat_fw_check.c (an nftables base chain, tsunagid's jump rule, an
operator's rule, a regular chain, xfrm policy counts), one per file.
Run from the source tree: python3 tests/fuzz/gen_fw_seeds.py"""
import os
import struct

CORPUS = os.path.join(os.path.dirname(__file__), "corpus", "fuzz_nat_fw")
NFNL_SUBSYS_NFTABLES, NFT_MSG_NEWCHAIN, NFT_MSG_NEWRULE = 10, 3, 6
NFTA_CHAIN_TABLE, NFTA_CHAIN_NAME, NFTA_CHAIN_HOOK, NFTA_CHAIN_POLICY = 1, 3, 4, 5
NFTA_HOOK_HOOKNUM, NFTA_HOOK_PRIORITY = 1, 2
NFTA_RULE_TABLE, NFTA_RULE_CHAIN, NFTA_RULE_EXPRESSIONS = 1, 2, 4
NFTA_LIST_ELEM, NFTA_EXPR_NAME, NFTA_EXPR_DATA = 1, 1, 2
NFTA_IMMEDIATE_DREG, NFTA_IMMEDIATE_DATA, NFTA_DATA_VERDICT = 1, 2, 2
NFTA_VERDICT_CODE, NFTA_VERDICT_CHAIN = 1, 2
NFT_JUMP, NFT_REG_VERDICT, NF_ACCEPT, NF_DROP = -3, 0, 1, 0
XFRM_MSG_NEWSPDINFO, XFRMA_SPD_INFO = 36, 1
NFPROTO_INET, NFPROTO_IPV4, NF_INET_PRE_ROUTING, NF_INET_FORWARD = 1, 2, 0, 2
NESTED = 0x8000


def attr(t, payload):
    a = struct.pack("=HH", 4 + len(payload), t) + payload
    return a + b"\0" * (-len(a) % 4)


def u32(t, v):
    return attr(t, struct.pack(">I", v & 0xffffffff))


def strz(t, s):
    return attr(t, s.encode() + b"\0")


def nest(t, *attrs):
    return attr(t | NESTED, b"".join(attrs))


def msg(mtype, extra, *attrs):
    body = extra + b"".join(attrs)
    return struct.pack("=IHHII", 16 + len(body), mtype, 0x2, 1, 0) + body


def nft(m, family, *attrs):
    return msg(NFNL_SUBSYS_NFTABLES << 8 | m, struct.pack("=BBH", family, 0, 0), *attrs)


def chain(family, table, name, hook, policy):
    return nft(NFT_MSG_NEWCHAIN, family, strz(NFTA_CHAIN_TABLE, table), strz(NFTA_CHAIN_NAME, name),
               nest(NFTA_CHAIN_HOOK, u32(NFTA_HOOK_HOOKNUM, hook), u32(NFTA_HOOK_PRIORITY, 0)),
               u32(NFTA_CHAIN_POLICY, policy))


def expr(name, *data):
    return nest(NFTA_LIST_ELEM, strz(NFTA_EXPR_NAME, name), *((nest(NFTA_EXPR_DATA, *data),) if data else ()))


def jump(to):
    return expr("immediate", u32(NFTA_IMMEDIATE_DREG, NFT_REG_VERDICT),
                nest(NFTA_IMMEDIATE_DATA, nest(NFTA_DATA_VERDICT, u32(NFTA_VERDICT_CODE, NFT_JUMP),
                                               strz(NFTA_VERDICT_CHAIN, to))))


def rule(table, chain_name, *exprs):
    return nft(NFT_MSG_NEWRULE, NFPROTO_IPV4, strz(NFTA_RULE_TABLE, table),
               strz(NFTA_RULE_CHAIN, chain_name), nest(NFTA_RULE_EXPRESSIONS, *exprs))


SEEDS = {
    "chain-raw-prerouting": chain(NFPROTO_IPV4, "raw", "PREROUTING", NF_INET_PRE_ROUTING, NF_ACCEPT),
    "chain-inet-forward-drop": chain(NFPROTO_INET, "filter", "forward", NF_INET_FORWARD, NF_DROP),
    "chain-regular": nft(NFT_MSG_NEWCHAIN, NFPROTO_IPV4, strz(NFTA_CHAIN_TABLE, "raw"),
                         strz(NFTA_CHAIN_NAME, "TSUNAGI-NAT")),
    "rule-ours": rule("raw", "PREROUTING", expr("counter"), jump("TSUNAGI-NAT")),
    "rule-operator": rule("filter", "FORWARD", expr("meta"), expr("cmp"), expr("counter"),
                          jump("TSUNAGI-NAT")),
    "spdinfo": msg(XFRM_MSG_NEWSPDINFO, struct.pack("=I", 0),
                   attr(XFRMA_SPD_INFO, struct.pack("=6I", 1, 0, 2, 0, 0, 0))),
}

os.makedirs(CORPUS, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(CORPUS, name), "wb") as f:
        f.write(data)
