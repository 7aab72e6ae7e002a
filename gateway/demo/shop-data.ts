/**
 * The demo's `shop` database: customers, cards and orders filled with generated (fake) personal data, from a
 * seeded generator so every demo shows the same rows. The card numbers pass the Luhn check, the way real
 * ones do, so masking has something real to find.
 */
import type { Queryable } from '../store/db.js';

const FIRST = ['Ada', 'Grace', 'Linus', 'Margaret', 'Ken', 'Barbara', 'Dennis', 'Frances', 'Edsger', 'Radia', 'Tim', 'Shafi', 'Donald', 'Hedy', 'Alan', 'Katherine'];
const LAST = ['Lovelace', 'Hopper', 'Torvalds', 'Hamilton', 'Thompson', 'Liskov', 'Ritchie', 'Allen', 'Dijkstra', 'Perlman', 'Berners-Lee', 'Goldwasser', 'Knuth', 'Lamarr', 'Turing', 'Johnson'];
const CITIES = ['Lisbon', 'Oslo', 'Austin', 'Nairobi', 'Osaka', 'Lyon', 'Toronto', 'Porto', 'Denver', 'Seoul'];
const STATUS = ['paid', 'shipped', 'delivered', 'refunded', 'pending'];

/** mulberry32: a tiny seeded PRNG (deterministic demo data). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function luhnComplete(prefix: string, length: number, r: () => number): string {
  let digits = prefix;
  while (digits.length < length - 1) digits += Math.floor(r() * 10).toString();
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return digits + ((10 - (sum % 10)) % 10).toString();
}

export const SHOP_SCHEMA = `
CREATE TABLE IF NOT EXISTS customers (
  id          serial PRIMARY KEY,
  name        text NOT NULL,
  email       text NOT NULL,
  phone       text,
  city        text,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS cards (
  id           serial PRIMARY KEY,
  customer_id  int NOT NULL REFERENCES customers(id),
  card_number  text NOT NULL,
  expires      text NOT NULL
);
CREATE TABLE IF NOT EXISTS orders (
  id           serial PRIMARY KEY,
  customer_id  int NOT NULL REFERENCES customers(id),
  amount_cents int NOT NULL,
  status       text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);`;

export async function seedShop(q: Queryable, customers = 200): Promise<void> {
  await q.query(SHOP_SCHEMA);
  const existing = await q.query<{ n: string }>('SELECT count(*) AS n FROM customers');
  if (Number(existing.rows[0]?.n ?? 0) > 0) return;
  const r = rng(20261121);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const c: unknown[][] = [];
  for (let i = 1; i <= customers; i++) {
    const first = pick(FIRST);
    const last = pick(LAST);
    const phone = `+1 ${200 + Math.floor(r() * 700)}-${100 + Math.floor(r() * 900)}-${1000 + Math.floor(r() * 9000)}`;
    c.push([`${first} ${last}`, `${first}.${last}${i}@example.com`.toLowerCase(), phone, pick(CITIES)]);
  }
  await insertMany(q, 'customers', ['name', 'email', 'phone', 'city'], c);
  const cards: unknown[][] = [];
  for (let i = 1; i <= customers; i++) {
    const brand = r() < 0.5 ? luhnComplete('4', 16, r) : luhnComplete(String(51 + Math.floor(r() * 5)), 16, r);
    cards.push([i, brand, `${String(1 + Math.floor(r() * 12)).padStart(2, '0')}/${28 + Math.floor(r() * 5)}`]);
  }
  await insertMany(q, 'cards', ['customer_id', 'card_number', 'expires'], cards);
  const orders: unknown[][] = [];
  for (let i = 0; i < customers * 5; i++) orders.push([1 + Math.floor(r() * customers), 500 + Math.floor(r() * 50_000), pick(STATUS)]);
  await insertMany(q, 'orders', ['customer_id', 'amount_cents', 'status'], orders);
}

async function insertMany(q: Queryable, table: string, cols: string[], rows: unknown[][]): Promise<void> {
  for (let off = 0; off < rows.length; off += 500) {
    const chunk = rows.slice(off, off + 500);
    const params: unknown[] = [];
    const values = chunk.map((row) => `(${row.map((v) => (params.push(v), `$${params.length}`)).join(',')})`);
    await q.query(`INSERT INTO ${table} (${cols.join(',')}) VALUES ${values.join(',')}`, params);
  }
}
