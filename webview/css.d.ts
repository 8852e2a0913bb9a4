// esbuild loads .css as text (esbuild.mjs).
declare module '*.css' {
  const text: string;
  export default text;
}
