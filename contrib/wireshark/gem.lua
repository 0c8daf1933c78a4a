-- SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
-- Wireshark / tshark dissector for GEM (docs/PROTOCOL.md):
--   gem     the sealed data packet: GEM header (version, suite, key id, pn),
--           ciphertext, tag (section 1); a heuristic UDP dissector for
--           packets to a multicast group (the ports are the application's)
--   gemcp   gemd's control packets (section 10): magic, version, body length,
--           and the TLVs, Babel-encoded: Public Key (224), SEK Announce (225),
--           Ack (226), Request (227); on UDP port 6698 (inside the tunnels)
--
-- Use:  tshark -X lua_script:contrib/wireshark/gem.lua -r capture.pcap -Y gem
--       wireshark: copy to ~/.local/lib/wireshark/plugins/ (or the system
--       plugin dir; `make install` puts it in $(PREFIX)/share/gem/wireshark)
-- Field names (for -T fields -e ...): gem.version gem.suite gem.key_id gem.pn
-- gem.ciphertext_len gem.tag; gemcp.tlv.type, gemcp.origin, gemcp.seqno, gemcp.origin_time,
-- gemcp.lifetime, gemcp.withdrawn, gemcp.address, gemcp.source, gemcp.group,
-- gemcp.key_id, gemcp.epoch, gemcp.ack.type, gemcp.nonce, ...
-- Tested by selftests/test_ops_tools.sh against captures of real traffic.

local SUITES = {
	[1] = "AES-128-CTR + HMAC-SHA-256-128",
	[2] = "AES-128-CTR + AES-CMAC",
	[3] = "AES-128-CTR + Poly1305",
	[4] = "ChaCha20-Poly1305",
}
local GEM_HDR, GEM_TAG = 12, 16

---------------------------------------------------------------------------
-- data plane

local gem = Proto("gem", "GEM sealed multicast")
local f = {
	version = ProtoField.uint8("gem.version", "Version"),
	suite = ProtoField.uint8("gem.suite", "Suite", base.DEC, SUITES),
	key_id = ProtoField.uint16("gem.key_id", "Key id"),
	pn = ProtoField.uint64("gem.pn", "Packet number"),
	ciphertext = ProtoField.bytes("gem.ciphertext", "Ciphertext"),
	ciphertext_len = ProtoField.uint32("gem.ciphertext_len", "Ciphertext length"),
	tag = ProtoField.bytes("gem.tag", "Tag"),
}
gem.fields = { f.version, f.suite, f.key_id, f.pn, f.ciphertext, f.ciphertext_len, f.tag }

local ip_dst = Field.new("ip.dst")
local ipv6_dst = Field.new("ipv6.dst")

-- the destination of the packet is a multicast group (section 2: only
-- packets to a protected group are sealed)
local function to_multicast()
	local d = ip_dst()
	if d then
		local first = tonumber(tostring(d):match("^(%d+)"))
		return first and first >= 224 and first <= 239
	end
	d = ipv6_dst()
	return d ~= nil and tostring(d):sub(1, 2):lower() == "ff"
end

local function gem_dissect(tvb, pinfo, tree)
	local len = tvb:len()
	pinfo.cols.protocol = "GEM"
	local t = tree:add(gem, tvb(), "GEM sealed payload")
	t:add(f.version, tvb(0, 1))
	t:add(f.suite, tvb(1, 1))
	t:add(f.key_id, tvb(2, 2))
	t:add(f.pn, tvb(4, 8))
	local clen = len - GEM_HDR - GEM_TAG
	t:add(f.ciphertext_len, clen):set_generated()
	if clen > 0 then
		t:add(f.ciphertext, tvb(GEM_HDR, clen))
	end
	t:add(f.tag, tvb(len - GEM_TAG, GEM_TAG))
	pinfo.cols.info = string.format("GEM suite %d key %d pn %s, %d bytes sealed",
		tvb(1, 1):uint(), tvb(2, 2):uint(), tostring(tvb(4, 8):uint64()), clen)
	return len
end

-- heuristic: to a multicast group, room for header and tag, version 1, a
-- known suite
local function gem_heur(tvb, pinfo, tree)
	if tvb:len() < GEM_HDR + GEM_TAG or tvb(0, 1):uint() ~= 1 then
		return false
	end
	if not SUITES[tvb(1, 1):uint()] or not to_multicast() then
		return false
	end
	gem_dissect(tvb, pinfo, tree)
	return true
end

gem:register_heuristic("udp", gem_heur)

---------------------------------------------------------------------------
-- control plane

local cp = Proto("gemcp", "GEM control (gemd TLVs)")
local TLV_NAMES = {
	[0] = "Pad1", [1] = "PadN", [224] = "Public Key", [225] = "SEK Announce",
	[226] = "Ack", [227] = "Request",
}
local c = {
	magic = ProtoField.uint8("gemcp.magic", "Magic"),
	version = ProtoField.uint8("gemcp.version", "Version"),
	body_len = ProtoField.uint16("gemcp.body_len", "Body length"),
	tlv = ProtoField.none("gemcp.tlv", "TLV"),
	tlv_type = ProtoField.uint8("gemcp.tlv.type", "Type", base.DEC, TLV_NAMES),
	tlv_len = ProtoField.uint8("gemcp.tlv.len", "Length"),
	origin_time = ProtoField.absolute_time("gemcp.origin_time", "Origin time", base.UTC),
	origin_ms = ProtoField.uint64("gemcp.origin_ms", "Origin time (ms since 1970)"),
	origin = ProtoField.bytes("gemcp.origin", "Origin node id", base.NONE),
	seqno = ProtoField.uint32("gemcp.seqno", "Seqno"),
	lifetime = ProtoField.uint32("gemcp.lifetime", "Lifetime (s)"),
	flags = ProtoField.uint8("gemcp.flags", "Flags", base.HEX),
	withdrawn = ProtoField.bool("gemcp.withdrawn", "Withdrawn", 8, nil, 0x01),
	address = ProtoField.string("gemcp.address", "Routable address"),
	pubkey = ProtoField.bytes("gemcp.pubkey", "Ed25519 public key"),
	sig = ProtoField.bytes("gemcp.sig", "Signature"),
	suite = ProtoField.uint8("gemcp.suite", "Suite", base.DEC, SUITES),
	source = ProtoField.string("gemcp.source", "Source"),
	group = ProtoField.string("gemcp.group", "Group"),
	key_id = ProtoField.uint16("gemcp.key_id", "Key id"),
	epoch = ProtoField.uint32("gemcp.epoch", "GAK epoch"),
	wrapped = ProtoField.bytes("gemcp.wrapped", "Wrapped SEK"),
	hmac = ProtoField.bytes("gemcp.hmac", "HMAC"),
	ack_type = ProtoField.uint8("gemcp.ack.type", "Acknowledges", base.DEC, TLV_NAMES),
	nonce = ProtoField.uint32("gemcp.nonce", "Nonce", base.HEX),
}
cp.fields = {}
for _, v in pairs(c) do
	table.insert(cp.fields, v)
end

local ef_bad = ProtoExpert.new("gemcp.bad", "Malformed GEM TLV", expert.group.MALFORMED,
	expert.severity.ERROR)
cp.experts = { ef_bad }

-- a 16-byte address: IPv6, or IPv4 as ::ffff:a.b.c.d (section 10.3)
local function addr16(r)
	local b = r:bytes()
	local mapped = true
	for i = 0, 9 do
		if b:get_index(i) ~= 0 then mapped = false end
	end
	if mapped and b:get_index(10) == 0xff and b:get_index(11) == 0xff then
		return string.format("%d.%d.%d.%d", b:get_index(12), b:get_index(13),
			b:get_index(14), b:get_index(15))
	end
	return tostring(r:ipv6())
end

-- the 25-byte record header shared by Public Key and SEK Announce (10.3):
-- origin, seqno, origin time (ms since 1970, UTC), lifetime, flags
local function rec_header(t, r)
	t:add(c.origin, r(0, 8))
	t:add(c.seqno, r(8, 4))
	local ms = r(12, 8):uint64()
	local secs = (ms / 1000):tonumber()
	t:add(c.origin_time, r(12, 8), NSTime.new(secs, (ms % 1000):tonumber() * 1000000))
	t:add(c.origin_ms, r(12, 8))
	t:add(c.lifetime, r(20, 4))
	local ft = t:add(c.flags, r(24, 1))
	ft:add(c.withdrawn, r(24, 1))
	return string.format("origin %s seqno %d%s", r(0, 8):bytes():tohex():lower(),
		r(8, 4):uint(), bit.band(r(24, 1):uint(), 1) == 1 and " withdrawn" or "")
end

local function tlv_pubkey(t, r)
	local s = rec_header(t, r)
	t:add(c.address, r(25, 16), addr16(r(25, 16)))
	t:add(c.pubkey, r(41, 32))
	t:add(c.sig, r(73, 64))
	return s .. " address " .. addr16(r(25, 16))
end

-- SEK Announce: the wrapped SEK has its suite's length (docs/PROTOCOL.md
-- 10.5): 40 bytes for suite 4 (32-byte SEK), 24 for any other suite byte
local function sek_wrapped_len(suite)
	return suite == 4 and 40 or 24
end

local function tlv_sek(t, r)
	local s = rec_header(t, r)
	local w = sek_wrapped_len(r(25, 1):uint())
	t:add(c.suite, r(25, 1))
	t:add(c.source, r(26, 16), addr16(r(26, 16)))
	t:add(c.group, r(42, 16), addr16(r(42, 16)))
	t:add(c.key_id, r(58, 2))
	t:add(c.epoch, r(60, 4))
	t:add(c.wrapped, r(64, w))
	t:add(c.hmac, r(64 + w, 32))
	t:add(c.sig, r(96 + w, 64))
	return string.format("%s (%s, %s) key %d", s, addr16(r(26, 16)), addr16(r(42, 16)),
		r(58, 2):uint())
end

-- Ack entries: 224 origin seqno (13), 225 origin seqno source group key id
-- (47), 227 nonce (5)
local ACK_LEN = { [224] = 13, [225] = 47, [227] = 5 }

local function tlv_ack(t, r, pinfo)
	local off, n = 0, 0
	while off < r:len() do
		local ty = r(off, 1):uint()
		local el = ACK_LEN[ty]
		if not el or off + el > r:len() then
			t:add_proto_expert_info(ef_bad, "Ack entry of unknown type or cut short")
			break
		end
		local e = t:add(c.ack_type, r(off, 1))
		if ty == 227 then
			e:add(c.nonce, r(off + 1, 4))
		else
			e:add(c.origin, r(off + 1, 8))
			e:add(c.seqno, r(off + 9, 4))
			if ty == 225 then
				e:add(c.source, r(off + 13, 16), addr16(r(off + 13, 16)))
				e:add(c.group, r(off + 29, 16), addr16(r(off + 29, 16)))
				e:add(c.key_id, r(off + 45, 2))
			end
		end
		off, n = off + el, n + 1
	end
	return string.format("%d entr%s", n, n == 1 and "y" or "ies")
end

-- body lengths; a SEK Announce's follows from its suite byte (offset 25)
local FIXED = { [224] = 137, [225] = 184, [227] = 4 }

function cp.dissector(tvb, pinfo, tree)
	if tvb:len() < 4 or tvb(0, 1):uint() ~= 42 then
		return 0
	end
	pinfo.cols.protocol = "GEM-CP"
	local t = tree:add(cp, tvb(), "GEM control")
	t:add(c.magic, tvb(0, 1))
	t:add(c.version, tvb(1, 1))
	t:add(c.body_len, tvb(2, 2))
	local body = math.min(tvb(2, 2):uint(), tvb:len() - 4)
	local off, names = 4, {}
	while off < 4 + body do
		local ty = tvb(off, 1):uint()
		if ty == 0 then
			off = off + 1
		else
			if off + 2 > 4 + body then
				t:add_proto_expert_info(ef_bad, "TLV header cut short")
				break
			end
			local len = tvb(off + 1, 1):uint()
			if off + 2 + len > 4 + body then
				t:add_proto_expert_info(ef_bad, "TLV body runs past the packet body")
				break
			end
			local tt = t:add(c.tlv, tvb(off, 2 + len))
			tt:add(c.tlv_type, tvb(off, 1))
			tt:add(c.tlv_len, tvb(off + 1, 1))
			local name = TLV_NAMES[ty] or ("type " .. ty)
			local what = ""
			local want = FIXED[ty]
			if ty == 225 and len > 25 then
				want = 160 + sek_wrapped_len(tvb(off + 2 + 25, 1):uint())
			end
			if want and want ~= len then
				tt:add_proto_expert_info(ef_bad, string.format("%s of %d bytes (wants %d)",
					name, len, want))
			elseif len > 0 then
				local r = tvb(off + 2, len)
				if ty == 224 then
					what = tlv_pubkey(tt, r)
				elseif ty == 225 then
					what = tlv_sek(tt, r)
				elseif ty == 226 then
					what = tlv_ack(tt, r, pinfo)
				elseif ty == 227 then
					tt:add(c.nonce, r(0, 4))
				end
			end
			tt:set_text(name .. (what ~= "" and (": " .. what) or ""))
			if ty ~= 1 then
				table.insert(names, name)
			end
			off = off + 2 + len
		end
	end
	pinfo.cols.info = "GEM control: " .. table.concat(names, ", ")
	return tvb:len()
end

DissectorTable.get("udp.port"):add(6698, cp)
