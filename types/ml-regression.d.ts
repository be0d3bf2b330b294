/**
 * Minimal type declarations for ml-regression 6 (the package ships none): only what watt uses.
 * Source: https://github.com/mljs/regression (MultivariateLinearRegression from
 * ml-regression-multivariate-linear: ordinary least squares through an SVD pseudo-inverse of XᵀX).
 */
declare module 'ml-regression' {
  export interface MultivariateLinearRegressionOptions {
    /** Add a column of ones (default true). */
    intercept?: boolean;
    /** Compute standard errors and t statistics (default true; slower). */
    statistics?: boolean;
  }

  export interface MultivariateLinearRegressionJSON {
    name: 'multivariateLinearRegression';
    weights: number[][];
    inputs: number;
    outputs: number;
    intercept: boolean;
  }

  export class MultivariateLinearRegression {
    /**
     * @param x rows × inputs
     * @param y rows × outputs
     */
    constructor(x: number[][], y: number[][], options?: MultivariateLinearRegressionOptions);
    /** (inputs [+1 for the intercept, last]) × outputs. */
    readonly weights: number[][];
    readonly inputs: number;
    readonly outputs: number;
    readonly intercept: boolean;
    predict(x: number[]): number[];
    predict(x: number[][]): number[][];
    toJSON(): MultivariateLinearRegressionJSON;
    static load(json: MultivariateLinearRegressionJSON): MultivariateLinearRegression;
  }
}
