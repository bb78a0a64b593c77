/**
 * Two round trips ssh2 waits for that the ssh protocol does not need, and one exchange pairctl
 * does not use (issue 15; measured with bench/trace.ts at 50 ms RTT: pairctl's plan waited for 9
 * server flights before, 7 after; OpenSSH's `ssh h1 true` waits for 8):
 *
 * 1. After the key exchange ssh2 sends SERVICE_REQUEST and waits for SERVICE_ACCEPT before its
 *    first USERAUTH_REQUEST. sshd handles its packets in order, so the request can follow at once.
 * 2. For a key whose private half pairctl holds, ssh2 first asks whether the server would accept
 *    the key (a USERAUTH_REQUEST without signature, answered by PK_OK) and only then signs. Signing
 *    at once is what RFC 4252 section 7 allows; the server answers SUCCESS or FAILURE either way.
 *    Agent keys keep the query: each signature would be a request to the agent.
 * 3. OpenSSH's sshd announces its other host keys after login (hostkeys-00@openssh.com) and ssh2
 *    asks it to prove each (the server signs with every host key, RSA included, in the same flight
 *    as the first exec request, and ssh2 verifies every signature). pairctl never uses the result
 *    (known_hosts is the user's), so the announcement is acknowledged and not proved.
 *
 * (Writing the script behind the exec request without waiting for its reply is not possible:
 * sshd opens a session channel with a window of 0 and widens it only when the command starts.)
 *
 * All three use ssh2 1.x internals (`_protocol` and its message handlers): there is no public
 * option. Each is installed only when the internals look as expected, so a different ssh2 falls
 * back to its own (slower, equally correct) behaviour; test/unit/transport/ssh2-pipelining.test.ts
 * fails when that happens, so the speed is not lost silently. None of this runs before the host
 * key is verified: the service request is sent once the key exchange is complete, and ssh2 calls
 * hostVerifier before it sends its NEWKEYS.
 */
import type { Client, ParsedKey } from 'ssh2';

type Fn = (...args: unknown[]) => unknown;

interface Internals {
  _protocol?: {
    service?: Fn;
    authPK?: Fn;
    requestSuccess?: Fn;
    _handlers?: Record<string, Fn | undefined>;
  };
}

/** Which of the shortcuts are installed on a client (all three with ssh2 1.17). */
export interface Pipelining {
  serviceRequest: boolean;
  signAtOnce: boolean;
  hostKeysNotProved: boolean;
}

/**
 * Installs the shortcuts. Call right after `client.connect(...)` (which creates ssh2's protocol
 * object), in the same tick: before any data arrives.
 */
export function pipelineLogin(client: Client): Pipelining {
  const proto = (client as unknown as Internals)._protocol;
  const handlers = proto?._handlers;
  let serviceRequest = false;
  let signAtOnce = false;
  if (proto && handlers && typeof proto.service === 'function' && typeof handlers.SERVICE_ACCEPT === 'function') {
    const service = proto.service;
    const accepted = handlers.SERVICE_ACCEPT;
    let early = false;
    proto.service = function (this: unknown, ...args: unknown[]) {
      const r = service.apply(this, args);
      if (args[0] === 'ssh-userauth' && !early) {
        early = true;
        // ssh2 starts its first auth attempt on SERVICE_ACCEPT: start it now, and let the real
        // SERVICE_ACCEPT (which follows) do nothing.
        accepted.call(handlers, proto, 'ssh-userauth');
      }
      return r;
    };
    handlers.SERVICE_ACCEPT = (...args: unknown[]) => (early ? undefined : accepted.apply(handlers, args));
    serviceRequest = true;
  }
  if (proto && typeof proto.authPK === 'function') {
    const authPK = proto.authPK;
    proto.authPK = function (this: unknown, username: unknown, key: unknown, keyAlgo: unknown, cbSign: unknown) {
      if (cbSign === undefined && typeof keyAlgo !== 'function' && holdsPrivateKey(key)) {
        const hash = hashFor(keyAlgo);
        return authPK.call(this, username, key, keyAlgo, (data: Buffer, cb: (sig: Buffer) => void) => {
          const sig = key.sign(data, hash);
          // A key that cannot sign here falls back to ssh2's own query: the server says no,
          // and ssh2 moves on to the next method.
          cb(sig instanceof Error ? Buffer.alloc(0) : sig);
        });
      }
      return authPK.call(this, username, key, keyAlgo, cbSign);
    };
    signAtOnce = true;
  }
  let hostKeysNotProved = false;
  const global = handlers?.GLOBAL_REQUEST;
  if (proto && handlers && typeof global === 'function' && typeof proto.requestSuccess === 'function') {
    handlers.GLOBAL_REQUEST = (...args: unknown[]) => {
      const [, name, wantReply] = args;
      if (name !== 'hostkeys-00@openssh.com') return global.apply(handlers, args);
      if (wantReply === true) proto.requestSuccess!();
      return undefined;
    };
    hostKeysNotProved = true;
  }
  return { serviceRequest, signAtOnce, hostKeysNotProved };
}

function holdsPrivateKey(key: unknown): key is ParsedKey {
  return typeof key === 'object' && key !== null && typeof (key as ParsedKey).isPrivateKey === 'function' && (key as ParsedKey).isPrivateKey() && typeof (key as ParsedKey).sign === 'function';
}

/** The hash of an RSA signature algorithm, as ssh2's own PK_OK handler picks it. */
function hashFor(keyAlgo: unknown): string | undefined {
  if (keyAlgo === 'rsa-sha2-256') return 'sha256';
  if (keyAlgo === 'rsa-sha2-512') return 'sha512';
  return undefined;
}
