// SPDX-License-Identifier: GPL-2.0
/*
 * nstcp queue bind: the device's ethtool operations.  Channels over
 * ethtool's generic netlink family (libmnl, as the rest of the tool), or
 * the SIOCETHTOOL ioctl on a kernel built without it; the RSS
 * indirection table through the ioctl, which every kernel since 2.6.36
 * has.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/ethtool.h>
#include <linux/ethtool_netlink.h>
#include <linux/sockios.h>

#include "qbind.h"

int eth_ioctl(const char *dev, void *cmd)
{
	struct ifreq ifr;
	int fd, err = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	ifr.ifr_data = cmd;
	if (ioctl(fd, SIOCETHTOOL, &ifr) < 0)
		err = -errno;
	close(fd);
	return err;
}

static void put_header(struct nlmsghdr *nlh, const char *dev)
{
	struct nlattr *nest = mnl_attr_nest_start(nlh, ETHTOOL_A_CHANNELS_HEADER);

	mnl_attr_put_strz(nlh, ETHTOOL_A_HEADER_DEV_NAME, dev);
	mnl_attr_nest_end(nlh, nest);
}

static void fill_get(struct nlmsghdr *nlh, const void *arg)
{
	put_header(nlh, arg);
}

static int channels_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[ETHTOOL_A_CHANNELS_MAX + 1];
	struct eth_channels *ch = data;

	if (nl_parse(nlh, tb, ETHTOOL_A_CHANNELS_MAX))
		return -1;
	ch->rx_max = nl_u32(tb[ETHTOOL_A_CHANNELS_RX_MAX]);
	ch->tx_max = nl_u32(tb[ETHTOOL_A_CHANNELS_TX_MAX]);
	ch->combined_max = nl_u32(tb[ETHTOOL_A_CHANNELS_COMBINED_MAX]);
	ch->rx = nl_u32(tb[ETHTOOL_A_CHANNELS_RX_COUNT]);
	ch->tx = nl_u32(tb[ETHTOOL_A_CHANNELS_TX_COUNT]);
	ch->combined = nl_u32(tb[ETHTOOL_A_CHANNELS_COMBINED_COUNT]);
	return 0;
}

/* The "ethtool" family; -EOPNOTSUPP when the kernel has none. */
static int eth_open(struct nl *nl)
{
	int err = nl_open_family(nl, ETHTOOL_GENL_NAME, ETHTOOL_GENL_VERSION);

	return err == -ENOENT ? -EOPNOTSUPP : err ? -EIO : 0;
}

/* The ioctl's channels, for a kernel without ethtool netlink. */
static int channels_ioctl_get(const char *dev, struct eth_channels *ch)
{
	struct ethtool_channels c = { .cmd = ETHTOOL_GCHANNELS };
	int err = eth_ioctl(dev, &c);

	if (err)
		return err;
	ch->rx_max = c.max_rx;
	ch->tx_max = c.max_tx;
	ch->combined_max = c.max_combined;
	ch->rx = c.rx_count;
	ch->tx = c.tx_count;
	ch->combined = c.combined_count;
	return 0;
}

static int channels_ioctl_set(const char *dev, const struct eth_channels *ch)
{
	struct ethtool_channels c = { .cmd = ETHTOOL_GCHANNELS };
	int err = eth_ioctl(dev, &c);

	if (err)
		return err;
	c.cmd = ETHTOOL_SCHANNELS;
	if (ch->combined_max)
		c.combined_count = ch->combined;
	if (ch->rx_max)
		c.rx_count = ch->rx;
	if (ch->tx_max)
		c.tx_count = ch->tx;
	return eth_ioctl(dev, &c);
}

int eth_channels_get(const char *dev, struct eth_channels *ch)
{
	struct nl nl;
	int err;

	memset(ch, 0, sizeof(*ch));
	err = eth_open(&nl);
	if (err == -EOPNOTSUPP)
		return channels_ioctl_get(dev, ch);
	if (err)
		return err;
	err = nl_request(&nl, ETHTOOL_MSG_CHANNELS_GET, false, fill_get, dev,
			 channels_cb, ch);
	nl_close(&nl);
	return err;
}

struct set_arg {
	const char *dev;
	const struct eth_channels *ch;
};

static void fill_set(struct nlmsghdr *nlh, const void *arg)
{
	const struct set_arg *a = arg;

	put_header(nlh, a->dev);
	if (a->ch->combined_max) {
		mnl_attr_put_u32(nlh, ETHTOOL_A_CHANNELS_COMBINED_COUNT,
				 a->ch->combined);
	}
	if (a->ch->rx_max)
		mnl_attr_put_u32(nlh, ETHTOOL_A_CHANNELS_RX_COUNT, a->ch->rx);
	if (a->ch->tx_max)
		mnl_attr_put_u32(nlh, ETHTOOL_A_CHANNELS_TX_COUNT, a->ch->tx);
}

static int no_cb(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	(void)data;
	return 0;
}

/* Sets the counts of want whose maximum is not 0. */
int eth_channels_set(const char *dev, const struct eth_channels *want)
{
	struct set_arg a = { dev, want };
	struct nl nl;
	int err;

	err = eth_open(&nl);
	if (err == -EOPNOTSUPP)
		return channels_ioctl_set(dev, want);
	if (err)
		return err;
	err = nl_request(&nl, ETHTOOL_MSG_CHANNELS_SET, false, fill_set, &a,
			 no_cb, NULL);
	nl_close(&nl);
	return err;
}

int eth_indir_get(const char *dev, uint32_t **table, uint32_t *size)
{
	struct ethtool_rxfh_indir head = { .cmd = ETHTOOL_GRXFHINDIR };
	struct ethtool_rxfh_indir *ind;
	int err;

	*table = NULL;
	*size = 0;
	err = eth_ioctl(dev, &head);
	if (err)
		return err;
	if (!head.size)
		return -EOPNOTSUPP;
	ind = calloc(1, sizeof(*ind) + head.size * sizeof(uint32_t));
	if (!ind)
		return -ENOMEM;
	ind->cmd = ETHTOOL_GRXFHINDIR;
	ind->size = head.size;
	err = eth_ioctl(dev, ind);
	if (!err) {
		*table = malloc(head.size * sizeof(uint32_t));
		if (*table) {
			memcpy(*table, ind->ring_index, head.size * sizeof(uint32_t));
			*size = head.size;
		} else {
			err = -ENOMEM;
		}
	}
	free(ind);
	return err;
}

int eth_indir_set(const char *dev, const uint32_t *table, uint32_t size)
{
	struct ethtool_rxfh_indir *ind;
	int err;

	ind = calloc(1, sizeof(*ind) + size * sizeof(uint32_t));
	if (!ind)
		return -ENOMEM;
	ind->cmd = ETHTOOL_SRXFHINDIR;
	ind->size = size;
	if (size)
		memcpy(ind->ring_index, table, size * sizeof(uint32_t));
	err = eth_ioctl(dev, ind);
	free(ind);
	return err;
}
