import { BufferSource } from '../dicom/byte-source.ts';
import { type Described, describeSource } from '../integrity/describe.ts';

/**
 * The inspector the gateway gives its file blob store (store/blob-writer.ts): on the writer's thread,
 * once an instance is durable, its description for the log (ids and content digests) — work the event
 * loop then does not do. Undefined when the bytes cannot be described (the work loop says why).
 */
export async function inspect(plain: Buffer): Promise<Described | undefined> {
  try {
    return await describeSource(new BufferSource(plain));
  } catch {
    return undefined;
  }
}
