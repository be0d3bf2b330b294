/** Why a CSV cell could not be converted to its column's type (a reason in words, never the value). */
export class CellError {
  constructor(readonly reason: string) {}
}
