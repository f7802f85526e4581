#pragma once
// The Xen 4.17 public headers from Debian's libxen-dev, included once with the
// settings Basalt needs. Never retype what they define.

#include <cstdint> // the Xen headers use uint*_t without including it

#define __XEN_TOOLS__ 1 // exposes the toolstack-visible parts (e.g. HVM_PARAM_* rules)
#include <xen/xen.h>
// xen.h must come first.
#include <xen/errno.h>
#include <xen/event_channel.h>
#include <xen/features.h>
#include <xen/grant_table.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>
#include <xen/memory.h>
#include <xen/physdev.h>
#include <xen/sched.h>
#include <xen/vcpu.h>
#include <xen/version.h>
