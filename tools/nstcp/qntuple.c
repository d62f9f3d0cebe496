// SPDX-License-Identifier: GPL-2.0
/*
 * nstcp queue bind|restore: ntuple filters ("rx-ntuple-filter",
 * NETIF_F_NTUPLE), which a driver with accelerated RFS needs on for the
 * kernel to program its flow steering into the NIC.  Bind turns them on
 * where the device offers them (RFS is configured in the same run),
 * saves the old value with the other settings, and restore puts it back.
 * Read and written as ethtool -k/-K do: the feature's index among the
 * device's feature names (ETH_SS_FEATURES), then ETHTOOL_GFEATURES and
 * ETHTOOL_SFEATURES.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/ethtool.h>

#include "qbind.h"

#define NTUPLE_NAME	"rx-ntuple-filter"

/*
 * The index of the ntuple feature among the device's feature names, and
 * the 32-bit blocks G/SFEATURES take (SFEATURES wants them all).
 */
static int ntuple_index(const char *dev, uint32_t *blocks)
{
	struct {
		struct ethtool_sset_info hdr;
		uint32_t count;
	} info = { .hdr = { .cmd = ETHTOOL_GSSET_INFO,
			    .sset_mask = 1ULL << ETH_SS_FEATURES } };
	struct ethtool_gstrings *gs;
	uint32_t n, i;
	int err;

	err = eth_ioctl(dev, &info);
	if (err)
		return err;
	n = info.hdr.sset_mask ? info.count : 0;
	if (!n || n > 4096)
		return -EOPNOTSUPP;
	*blocks = (n + 31) / 32;
	gs = calloc(1, sizeof(*gs) + n * ETH_GSTRING_LEN);
	if (!gs)
		return -ENOMEM;
	gs->cmd = ETHTOOL_GSTRINGS;
	gs->string_set = ETH_SS_FEATURES;
	gs->len = n;
	err = eth_ioctl(dev, gs);
	for (i = 0; !err && i < gs->len && i < n; i++)
		if (!strncmp((char *)gs->data + i * ETH_GSTRING_LEN, NTUPLE_NAME,
			     ETH_GSTRING_LEN))
			break;
	if (!err && (i >= gs->len || i >= n))
		err = -EOPNOTSUPP;
	free(gs);
	return err ? err : (int)i;
}

int eth_ntuple_get(const char *dev, bool *on)
{
	struct ethtool_gfeatures *gf;
	uint32_t blocks, bit;
	int idx, err;

	*on = false;
	idx = ntuple_index(dev, &blocks);
	if (idx < 0)
		return idx;
	gf = calloc(1, sizeof(*gf) + blocks * sizeof(gf->features[0]));
	if (!gf)
		return -ENOMEM;
	gf->cmd = ETHTOOL_GFEATURES;
	gf->size = blocks;
	err = eth_ioctl(dev, gf);
	bit = 1U << (idx % 32);
	if (!err) {
		*on = gf->features[idx / 32].active & bit;
		/* Not in the device's changeable features: not offered. */
		if (!(gf->features[idx / 32].available & bit) ||
		    (gf->features[idx / 32].never_changed & bit))
			err = -EOPNOTSUPP;
	}
	free(gf);
	return err;
}

int eth_ntuple_set(const char *dev, bool on)
{
	struct ethtool_sfeatures *sf;
	uint32_t blocks, bit;
	bool now;
	int idx, err;

	idx = ntuple_index(dev, &blocks);
	if (idx < 0)
		return idx;
	sf = calloc(1, sizeof(*sf) + blocks * sizeof(sf->features[0]));
	if (!sf)
		return -ENOMEM;
	sf->cmd = ETHTOOL_SFEATURES;
	sf->size = blocks;
	bit = 1U << (idx % 32);
	sf->features[idx / 32].valid = bit;
	sf->features[idx / 32].requested = on ? bit : 0;
	err = eth_ioctl(dev, sf);
	free(sf);
	/* The driver may refuse the wish quietly (ETHTOOL_F_WISH). */
	if (!err && (eth_ntuple_get(dev, &now), now != on))
		err = -EIO;
	return err;
}

void qb_step_ntuple(const char *dev, struct qb_out *o)
{
	char why[160];
	bool on;
	int err = eth_ntuple_get(dev, &on);

	if (err == -EOPNOTSUPP && on) {
		qb_step(o, "ntuple", "on (fixed)", QB_UNCHANGED, NULL);
		return;
	}
	if (err == -EOPNOTSUPP) {
		qb_step(o, "ntuple", "-", QB_SKIPPED,
			"the device has no ntuple filters to turn on (" NTUPLE_NAME
			" fixed): no accelerated RFS, RFS steers in software");
		return;
	}
	if (err) {
		snprintf(why, sizeof(why), "reading " NTUPLE_NAME ": %s", strerror(-err));
		qb_step(o, "ntuple", "-", QB_FAILED, why);
		return;
	}
	if (on) {
		qb_step(o, "ntuple", "on (accelerated RFS)", QB_UNCHANGED, NULL);
		return;
	}
	/*
	 * Not every driver's ntuple filters serve accelerated RFS, and some
	 * reset the device to change the feature: only when asked.
	 */
	if (!o->ntuple) {
		qb_step(o, "ntuple", "off", QB_SKIPPED,
			"left off: \"ntuple\" turns it on, for a driver whose ntuple filters serve accelerated RFS (some reset the device to change it)");
		return;
	}
	if (o->dry_run) {
		qb_step(o, "ntuple", "off -> on (accelerated RFS)", QB_PLANNED, NULL);
		return;
	}
	err = eth_ntuple_set(dev, true);
	snprintf(why, sizeof(why), "%s", strerror(-err));
	qb_step(o, "ntuple", "off -> on (accelerated RFS)", err ? QB_FAILED : QB_DONE,
		err ? why : NULL);
}

void qs_ntuple_save(const char *dev, struct json_object *s)
{
	bool on;

	if (!eth_ntuple_get(dev, &on))
		json_object_object_add(s, "ntuple", json_object_new_boolean(on));
}

void qs_ntuple_restore(const char *dev, struct json_object *s, struct qb_out *o)
{
	struct json_object *v;
	bool want, on;
	int err;

	if (!json_object_object_get_ex(s, "ntuple", &v))
		return;
	want = json_object_get_boolean(v);
	err = eth_ntuple_get(dev, &on);
	if ((!err || err == -EOPNOTSUPP) && on == want) {
		qb_step(o, "ntuple", want ? "on" : "off", QB_UNCHANGED, NULL);
		return;
	}
	/*
	 * Not changeable any more (fixed now): not a failure that would keep
	 * the saved state, and so every later restore, stuck.
	 */
	if (err == -EOPNOTSUPP) {
		qb_step(o, "ntuple", want ? "on" : "off", QB_SKIPPED,
			"the device no longer lets " NTUPLE_NAME " change");
		return;
	}
	err = err ? err : eth_ntuple_set(dev, want);
	qb_step(o, "ntuple", want ? "on" : "off", err ? QB_FAILED : QB_DONE,
		err ? strerror(-err) : NULL);
}
