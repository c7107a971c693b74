"""Tainan's 1999 petition (陳情) system: the adapter Onestop uses and a sandbox that speaks the same protocol."""
