// SPDX-License-Identifier: MIT
// Hand-offs the program orders (policy=handoff, modes abort and warn).
//
// libzmq lets a socket move from one thread to another when a full memory
// barrier separates their calls.  The guard accepts the move when it can
// see an edge that orders the owner's last call on the socket before the
// other thread's call:
//  - thread creation: pthread_create by T releases; the new thread acquires
//    that release (and what T had acquired);
//  - a message over an inproc PAIR pipe (a czmq actor's pipe): its send
//    releases; its receive acquires the release its sender made when it
//    sent that very message.
// A release by T is a number, T's count of releases.  It offers every
// socket T owns: the owner word gets kOfferBit and the number (the first
// release after T's last call on it).  That takes the socket off T's fast
// path, so T's next call on it is seen, and takes the offer back: T used it
// after the release.  A thread that has acquired T's release r or a later
// one may take a socket T offered at r; anyone else is reported as before.
//
// The owner's fast path is unchanged: an offered socket's owner word never
// equals a serial, so its owner's next call goes the slow way once.  The
// pipes' ends carry kPipeBit in their owner word for the same reason: each
// call on them is seen (they release and acquire).  See doc/policy.md.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "core/registry.h"

namespace zg {

constexpr uint64_t kOfferBit = 1ull << 63;
constexpr uint64_t kPipeBit = 1ull << 62;
constexpr uint64_t kSerialBits = 0xffffffffull;
constexpr uint32_t kSeqMax = 0x3fffffff;  // bits 32-61 of an offered owner word

// An owner word as a thread serial (kNoOwner stays kNoOwner).
inline uint64_t owner_serial(uint64_t w) {
  return w == kNoOwner || !(w & (kOfferBit | kPipeBit)) ? w : (w & kSerialBits);
}
inline uint64_t owner_serial_of(const SocketHot* s) { return owner_serial(s->owner.load(std::memory_order_acquire)); }
inline bool owner_offered(uint64_t w) { return w != kNoOwner && (w & kOfferBit) && !(w & kPipeBit); }
// The owner word of a socket shared under a lock (core/locks.h): no
// owner (serial 0), never a thread's serial, so every call is seen.
constexpr uint64_t kLockedWord = kOfferBit | kPipeBit;
inline uint32_t owner_offer_seq(uint64_t w) { return static_cast<uint32_t>((w >> 32) & kSeqMax); }
// Serials past 32 bits (four billion threads) are never offered nor pipe
// ends: their words stay plain serials, and the rule falls back to today's.
inline bool owner_encodable(uint64_t serial) { return serial != 0 && serial <= kSerialBits; }

// On when the edges count: policy=handoff in mode abort or warn (strict
// keeps the creator as owner for good; overlap and serialize never look at
// owners).  Read once, after the options.
bool order_enabled();
void order_init();

// The calling thread took st (a release offers it).
void order_taken(SocketState* st);
// The owner word the calling thread (serial me) stores when it takes st.
uint64_t order_owner_word(const SocketState* st, uint64_t me);

// A release by the calling thread (serial me): offers the sockets it owns.
// Returns the release's number (0: none made).
uint32_t order_release(uint64_t me);
// Whether the calling thread has acquired owner's release seq (or later).
bool order_acquired(uint64_t owner, uint32_t seq);

// pthread_create: the block the new thread starts through (null: start it
// as it is), its start routine, and the block given back when the thread
// could not be created.
void* order_thread_prepare(void* (*fn)(void*), void* arg, const void* ra);
void* order_thread_start(void* block);
void order_thread_failed(void* block);

// A bind or connect of st to addr succeeded: two PAIR sockets of one
// context on one inproc endpoint become a pipe.
void order_endpoint(SocketState* st, const char* verb, const char* addr);
// st is closed: it is no pipe end any more.
void order_closed(SocketState* st);
// A send of `parts` message parts on pipe end st by me: the release is
// queued for the receiver before the call (the message may be received
// before the call returns).  Returns a token for order_sent.
uint64_t order_sending(SocketState* st, uint64_t me, size_t parts);
// The send returned: a failed one takes its queued release back.
void order_sent(SocketState* st, uint64_t token, size_t parts, bool ok);
// `parts` parts were received on pipe end st: acquires their releases.
void order_received(SocketState* st, size_t parts);

// A forked child's threads: releases and acquisitions were the parent's.
void order_after_fork_child();

}  // namespace zg
