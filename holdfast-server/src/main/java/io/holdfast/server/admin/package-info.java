/**
 * The node's admin HTTP port, status report and page, metrics and the sampling behind them.
 */
package io.holdfast.server.admin;
