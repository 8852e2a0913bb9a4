// Placeholder until this subcommand lands; replaced by its implementation.
export async function main(_argv: string[]): Promise<number> {
  process.stderr.write('prpo-studio pretrain: not implemented yet\n');
  return 1;
}
