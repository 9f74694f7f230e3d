#!/usr/bin/env bash
# Seeds for fuzz_import: the first byte picks the format (0 text, 1 NSRL v2 CSV, 2 VICS JSON).
# usage: seeds.sh SEEDS
set -uo pipefail
d=$1/import
mkdir -p "$d"
printf '\0d41d8cd98f00b204e9800998ecf8427e\n# comment\nda39a3ee5e6b4b0d3255bfef95601890afd80709 cat\n' >"$d/text"
printf '\1"SHA-1","MD5","CRC32","FileName","FileSize","ProductCode","OpSystemCode","SpecialCode"\n"DA39A3EE5E6B4B0D3255BFEF95601890AFD80709","D41D8CD98F00B204E9800998ECF8427E","00000000","empty","0","1","2",""\n' >"$d/nsrl"
printf '\2{"@odata.context":"http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/Default/$metadata#Media","value":[{"MediaID":1,"Category":1,"MD5":"D41D8CD98F00B204E9800998ECF8427E","SHA1":"DA39A3EE5E6B4B0D3255BFEF95601890AFD80709"}]}' >"$d/vics"
exit 0
