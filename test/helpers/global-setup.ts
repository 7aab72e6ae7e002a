// Placeholder: replaced by the store work (starts one embedded PostgreSQL for the whole run).
export default function setup(): void {}
