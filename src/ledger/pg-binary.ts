/**
 * One-dimensional arrays in PostgreSQL's binary format (what `array_recv` reads), for the
 * PostgreSQL ledger's batch writes. `pg` sends a Buffer parameter as binary and anything else as
 * text; a text array is an `{…}` literal that `pg` builds by quoting and escaping every element and
 * the server parses back character by character, which made up about a third of a batch's time
 * (bench/postgres.ts). Binary elements are lengths and bytes: no quoting on either side.
 *
 * Format (src/backend/utils/adt/arrayfuncs.c, array_recv): int32 number of dimensions (1), int32
 * has-nulls flag, int32 element type OID, then per dimension int32 length and int32 lower bound
 * (1); then per element an int32 byte length (-1 for NULL) and the element's binary form: int8
 * and int4 big-endian, bool one byte, text its UTF-8 bytes.
 */

/** The element types the ledger writes, with their OIDs (src/include/catalog/pg_type.dat). */
const ELEMENT_OID = { bigint: 20, integer: 23, text: 25, boolean: 16 } as const;

/** An element type of {@link binaryArray}. */
export type BinaryElement = keyof typeof ELEMENT_OID;

const TWO_32 = 4_294_967_296;
const HEADER = 20;

/**
 * `values` as a binary `type[]` parameter. null and undefined are NULL. Numbers of a `bigint` or
 * `integer` array must be integers in range (a fraction or an out-of-range value throws, as the
 * server would refuse its text): the ledger validates its counts before they get here.
 */
export function binaryArray(type: BinaryElement, values: readonly unknown[]): Buffer {
  const n = values.length;
  const width = type === 'bigint' ? 8 : type === 'integer' ? 4 : 1;
  let size = HEADER;
  let nulls = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v === null || v === undefined) {
      nulls = 1;
      size += 4;
    } else size += 4 + (type === 'text' ? Buffer.byteLength(v as string, 'utf8') : width);
  }
  const buf = Buffer.allocUnsafe(size);
  buf.writeInt32BE(1, 0);
  buf.writeInt32BE(nulls, 4);
  buf.writeInt32BE(ELEMENT_OID[type], 8);
  buf.writeInt32BE(n, 12);
  buf.writeInt32BE(1, 16);
  let o = HEADER;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v === null || v === undefined) {
      buf.writeInt32BE(-1, o);
      o += 4;
      continue;
    }
    switch (type) {
      case 'bigint': {
        buf.writeInt32BE(8, o);
        if (typeof v === 'bigint') buf.writeBigInt64BE(v, o + 4);
        else {
          const x = v as number;
          if (!Number.isSafeInteger(x)) throw new RangeError(`not an integer for a bigint column: ${x}`);
          // Two's complement in two halves: the high word signed, the low word unsigned.
          const hi = Math.floor(x / TWO_32);
          buf.writeInt32BE(hi, o + 4);
          buf.writeUInt32BE(x - hi * TWO_32, o + 8);
        }
        o += 12;
        break;
      }
      case 'integer':
        buf.writeInt32BE(4, o);
        // writeInt32BE throws on a value out of the int4 range (the keys are whole hours and days).
        buf.writeInt32BE(v as number, o + 4);
        o += 8;
        break;
      case 'boolean':
        buf.writeInt32BE(1, o);
        buf[o + 4] = v ? 1 : 0;
        o += 5;
        break;
      default: {
        const len = buf.write(String(v), o + 4, 'utf8');
        buf.writeInt32BE(len, o);
        o += 4 + len;
      }
    }
  }
  return buf;
}
